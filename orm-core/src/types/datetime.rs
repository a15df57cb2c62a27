//! Time-zone-aware instants (`chrono::DateTime<Utc>`, and with the `time`
//! feature `time::OffsetDateTime`): `timestamptz` on PostgreSQL, the UTC
//! wall time in `DATETIME(6)` on MySQL, text with a `+00:00` offset on
//! SQLite (diesel's own SQLite encoding of time-zone-aware values).

use chrono::{DateTime, Utc};
#[allow(unused_imports)]
use diesel::deserialize::{self, FromSql};
#[allow(unused_imports)]
use diesel::serialize::{self, Output, ToSql};

use super::enc::TimestampTz;
use crate::backend::checked::{check_instant, Ymd};

/// Delegates an instant's encoding on `$backend` (named `$label`, whose
/// years it is checked against, in UTC) to diesel's impl for the SQL type
/// `$native` (unused in a MySQL-only build).
#[allow(unused_macros)]
macro_rules! delegate {
    ($t:ty, $backend:ty, $label:literal, $value:ty, $native:ty) => {
        impl FromSql<TimestampTz, $backend> for $t {
            fn from_sql(value: $value) -> deserialize::Result<Self> {
                <$t as FromSql<$native, $backend>>::from_sql(value)
            }
        }

        impl ToSql<TimestampTz, $backend> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                check_instant($label, self.utc_date(), self.nanosecond())?;
                <$t as ToSql<$native, $backend>>::to_sql(self, out)
            }
        }
    };
}

/// The date of an instant, in UTC (what the backends store), and its
/// nanosecond (from 1,000,000,000 in a leap second).
trait UtcDate {
    fn utc_date(&self) -> Ymd;
    fn nanosecond(&self) -> u32;
}

impl UtcDate for DateTime<Utc> {
    fn utc_date(&self) -> Ymd {
        use chrono::Datelike;
        (self.year(), self.month(), self.day())
    }

    fn nanosecond(&self) -> u32 {
        chrono::Timelike::nanosecond(self)
    }
}

#[cfg(feature = "postgres")]
delegate!(
    DateTime<Utc>,
    diesel::pg::Pg,
    "PostgreSQL",
    diesel::pg::PgValue<'_>,
    diesel::sql_types::Timestamptz
);
#[cfg(feature = "sqlite")]
delegate!(
    DateTime<Utc>,
    diesel::sqlite::Sqlite,
    "SQLite",
    diesel::sqlite::SqliteValue<'_, '_, '_>,
    diesel::sql_types::TimestamptzSqlite
);

/// MySQL has no time-zone-aware type that spans years 1000 to 9999
/// (`TIMESTAMP` stops in 2038 and converts with the session time zone): the
/// UTC wall time is stored in a `DATETIME(6)`.
#[cfg(feature = "mysql")]
impl FromSql<TimestampTz, diesel::mysql::Mysql> for DateTime<Utc> {
    fn from_sql(value: diesel::mysql::MysqlValue<'_>) -> deserialize::Result<Self> {
        let naive = <chrono::NaiveDateTime as FromSql<
            diesel::sql_types::Datetime,
            diesel::mysql::Mysql,
        >>::from_sql(value)?;
        Ok(naive.and_utc())
    }
}

#[cfg(feature = "mysql")]
impl ToSql<TimestampTz, diesel::mysql::Mysql> for DateTime<Utc> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::mysql::Mysql>) -> serialize::Result {
        check_instant("MySQL", self.utc_date(), UtcDate::nanosecond(self))?;
        <chrono::NaiveDateTime as ToSql<diesel::sql_types::Datetime, diesel::mysql::Mysql>>::to_sql(
            &self.naive_utc(),
            &mut out.reborrow(),
        )
    }
}

super::multi_backend_value!([] DateTime<Utc> : diesel::sql_types::Timestamptz => TimestampTz);

#[cfg(feature = "time")]
mod offset {
    use super::*;
    use time::OffsetDateTime;

    impl UtcDate for OffsetDateTime {
        fn utc_date(&self) -> Ymd {
            let utc = self.to_offset(time::UtcOffset::UTC);
            (utc.year(), u8::from(utc.month()).into(), utc.day().into())
        }

        fn nanosecond(&self) -> u32 {
            OffsetDateTime::nanosecond(*self)
        }
    }

    #[cfg(feature = "postgres")]
    delegate!(
        OffsetDateTime,
        diesel::pg::Pg,
        "PostgreSQL",
        diesel::pg::PgValue<'_>,
        diesel::sql_types::Timestamptz
    );
    #[cfg(feature = "sqlite")]
    delegate!(
        OffsetDateTime,
        diesel::sqlite::Sqlite,
        "SQLite",
        diesel::sqlite::SqliteValue<'_, '_, '_>,
        diesel::sql_types::TimestamptzSqlite
    );
    // diesel stores an `OffsetDateTime` in a MySQL `DATETIME` converted to
    // UTC, and reads it back as UTC.
    #[cfg(feature = "mysql")]
    delegate!(
        OffsetDateTime,
        diesel::mysql::Mysql,
        "MySQL",
        diesel::mysql::MysqlValue<'_>,
        diesel::sql_types::Datetime
    );

    crate::types::multi_backend_value!([] OffsetDateTime : diesel::sql_types::Timestamptz => TimestampTz);
}
