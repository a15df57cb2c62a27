//! Checked binds: the SQL types generated code binds floats, dates, times,
//! datetimes and text with when it writes a row. Each checks the value against
//! what the backend can store, so a value it would change (NaN stored as
//! NULL on SQLite) or refuse with a vague message ("Column 'moment' cannot
//! be null" on MariaDB) is an `OrmError::Value` naming the field and what
//! is accepted, before the statement runs. Datetimes go to MySQL as
//! `DATETIME` parameters: diesel's `TIMESTAMP` ones are limited by MariaDB
//! to 1970–2038 and turn into NULL outside it.
//!
//! | type | SQLite | PostgreSQL | MySQL/MariaDB |
//! |---|---|---|---|
//! | `f32`, `f64` | not NaN (stored as NULL) | anything | finite |
//! | `NaiveDate`, `time::Date` | years 0–9999 (stored as text, which sorts as dates only there) | from 24 November 4714 BC (-4713-11-24) | years 0–9999, not 0000-02-29 |
//! | `NaiveDateTime`, `time::PrimitiveDateTime` | years 0–9999 (stored as text, which sorts as dates only there) | from 24 November 4714 BC (-4713-11-24) | years 0–9999, not 0000-02-29 |
//! | `DateTime<Utc>`, `time::OffsetDateTime` (checked in `types::datetime`, in UTC) | years 0–9999 (stored as text, which sorts as dates only there) | from 24 November 4714 BC (-4713-11-24) | years 0–9999, not 0000-02-29 |
//! | `String` | at most `max_length` characters | the same, and no NUL character | the same (255 on a keyed column without one: its `VARCHAR(255)`) |
//! | `NaiveTime`, and the time of a datetime | not in a leap second (`:60`) | the same (it would store the next second) | the same |

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::{self, HasSqlType};

use super::MultiBackend;
use crate::error::BadValue;

fn bad(reason: String) -> diesel::serialize::Result {
    Err(Box::new(BadValue {
        field: None,
        reason,
    }))
}

/// Declares a bind-only SQL type whose metadata on each backend is that
/// of the SQL type named there.
macro_rules! checked_type {
    ($(#[$doc:meta])* $name:ident { $(#[$cfg:meta] $backend:ty => $inner:ty;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, diesel::sql_types::SqlType)]
        pub struct $name;

        $(
            #[$cfg]
            impl HasSqlType<$name> for $backend {
                fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                    <$backend as HasSqlType<$inner>>::metadata(lookup)
                }
            }
        )+

        impl HasSqlType<$name> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$name>(lookup)
            }
        }
    };
}

/// Binds `$rust` as the checked type `$name`: `$check` (the backend's
/// name and the value; `Err` says what is accepted) runs before the `ToSql`
/// of the SQL type named for that backend writes the value.
macro_rules! checked_value {
    (
        $name:ident for $rust:ty {
            $(#[$cfg:meta] $backend:ty => $inner:ty, $label:literal;)+
        }
        check = $check:expr;
    ) => {
        $(
            #[$cfg]
            impl ToSql<$name, $backend> for $rust {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> diesel::serialize::Result {
                    let check: fn(&'static str, &$rust) -> Result<(), String> = $check;
                    if let Err(reason) = check($label, self) {
                        return bad(reason);
                    }
                    <$rust as ToSql<$inner, $backend>>::to_sql(self, out)
                }
            }
        )+

        impl ToSql<$name, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> diesel::serialize::Result {
                out.set_value(($name, self));
                Ok(IsNull::No)
            }
        }
    };
}

pub(crate) fn float_check(backend: &'static str, nan: bool, infinite: bool) -> Result<(), String> {
    match backend {
        "SQLite" if nan => Err("NaN cannot be stored on SQLite (it would become NULL); store a finite number or use an Option and None".into()),
        "MySQL" if nan || infinite => Err("MySQL/MariaDB stores finite numbers only (not NaN or ±infinity)".into()),
        _ => Ok(()),
    }
}

/// A date as `(year, month, day)`: the year astronomical (1 BC is 0).
pub(crate) type Ymd = (i32, u32, u32);

/// Refuses, while binding, an instant (a time-zone-aware datetime, whose
/// `ToSql` lives with its encoding) on a date `backend` cannot store, or
/// in a leap second (`nanosecond` from 1,000,000,000).
pub(crate) fn check_instant(
    backend: &'static str,
    date: Ymd,
    nanosecond: u32,
) -> diesel::serialize::Result {
    match date_check(backend, date).and_then(|()| leap_check(nanosecond)) {
        Ok(()) => Ok(IsNull::No),
        Err(reason) => bad(reason),
    }
}

/// A time in a leap second (chrono's `:60`, a `nanosecond` from
/// 1,000,000,000) is refused everywhere: PostgreSQL and MySQL would store
/// the next second instead (`23:59:60` reads back as `00:00:00`).
fn leap_check(nanosecond: u32) -> Result<(), String> {
    if nanosecond >= 1_000_000_000 {
        return Err("a leap second (:60) is not stored as written (PostgreSQL and MySQL/MariaDB turn it into the next second); give :59.999999 or the next second".into());
    }
    Ok(())
}

/// What `backend` refuses of a chrono date (what [`Date`] checks).
pub(crate) fn naive_date_check(backend: &'static str, d: &NaiveDate) -> Result<(), String> {
    date_check(backend, (d.year(), d.month(), d.day()))
}

/// What `backend` refuses of a chrono datetime (what [`Timestamp`]
/// checks): its date, and a leap second.
pub(crate) fn naive_datetime_check(backend: &'static str, t: &NaiveDateTime) -> Result<(), String> {
    naive_date_check(backend, &t.date())?;
    leap_check(t.nanosecond())
}

/// What every backend refuses of a chrono time (what [`Time`] checks).
pub(crate) fn naive_time_check(t: &NaiveTime) -> Result<(), String> {
    leap_check(t.nanosecond())
}

/// The dates a backend stores dates and datetimes on.
fn date_check(backend: &'static str, (year, month, day): Ymd) -> Result<(), String> {
    match backend {
        "PostgreSQL" if (year, month, day) < (-4713, 11, 24) => Err(format!(
            "{year:05}-{month:02}-{day:02} is out of range: PostgreSQL stores dates from 24 November 4714 BC (-4713-11-24)"
        )),
        "MySQL" if !(0..=9999).contains(&year) => Err(format!(
            "year {year} is out of range: MySQL/MariaDB stores years 0 to 9999"
        )),
        "SQLite" if !(0..=9999).contains(&year) => Err(format!(
            "year {year} is out of range: SQLite stores dates as text, which sorts and compares as dates for years 0 to 9999 only"
        )),
        "MySQL" if (year, month, day) == (0, 2, 29) => Err(
            "0000-02-29 is no date on MySQL/MariaDB (year 0 is not a leap year there)".into(),
        ),
        _ => Ok(()),
    }
}

checked_type! {
    /// `f64`, checked.
    Double {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Double;
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Double;
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Double;
    }
}

checked_value! {
    Double for f64 {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Double, "SQLite";
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Double, "PostgreSQL";
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Double, "MySQL";
    }
    check = |backend, v| float_check(backend, v.is_nan(), v.is_infinite());
}

checked_type! {
    /// `f32`, checked.
    Float {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Float;
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Float;
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Float;
    }
}

checked_value! {
    Float for f32 {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Float, "SQLite";
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Float, "PostgreSQL";
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Float, "MySQL";
    }
    check = |backend, v| float_check(backend, v.is_nan(), v.is_infinite());
}

checked_type! {
    /// A date (`chrono::NaiveDate`, `time::Date`), checked.
    Date {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Date;
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Date;
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Date;
    }
}

checked_value! {
    Date for NaiveDate {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Date, "SQLite";
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Date, "PostgreSQL";
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Date, "MySQL";
    }
    check = naive_date_check;
}

checked_type! {
    /// A datetime without time zone (`chrono::NaiveDateTime`,
    /// `time::PrimitiveDateTime`), checked; a `DATETIME` parameter on MySQL.
    Timestamp {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Timestamp;
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Timestamp;
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => diesel::mysql::sql_types::Datetime;
    }
}

checked_value! {
    Timestamp for NaiveDateTime {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Timestamp, "SQLite";
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Timestamp, "PostgreSQL";
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => diesel::mysql::sql_types::Datetime, "MySQL";
    }
    check = naive_datetime_check;
}

checked_type! {
    /// A time of day (`chrono::NaiveTime`, `time::Time`), checked.
    Time {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Time;
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Time;
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Time;
    }
}

checked_value! {
    Time for NaiveTime {
        #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Time, "SQLite";
        #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Time, "PostgreSQL";
        #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Time, "MySQL";
    }
    check = |_, v| naive_time_check(v);
}

/// The `time` crate's date and datetime, checked as chrono's are.
#[cfg(feature = "time")]
mod time_types {
    use super::*;

    checked_value! {
        Date for time::Date {
            #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Date, "SQLite";
            #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Date, "PostgreSQL";
            #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Date, "MySQL";
        }
        check = |backend, v| date_check(backend, (v.year(), u8::from(v.month()).into(), v.day().into()));
    }

    // `time` has no leap seconds: nothing to refuse.
    checked_value! {
        Time for time::Time {
            #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Time, "SQLite";
            #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Time, "PostgreSQL";
            #[cfg(feature = "mysql")] diesel::mysql::Mysql => sql_types::Time, "MySQL";
        }
        check = |_, _| Ok(());
    }

    checked_value! {
        Timestamp for time::PrimitiveDateTime {
            #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite => sql_types::Timestamp, "SQLite";
            #[cfg(feature = "postgres")] diesel::pg::Pg => sql_types::Timestamp, "PostgreSQL";
            #[cfg(feature = "mysql")] diesel::mysql::Mysql => diesel::mysql::sql_types::Datetime, "MySQL";
        }
        check = |backend, v| date_check(backend, (v.year(), u8::from(v.month()).into(), v.day().into()));
    }
}

/// `String`, checked against the field's `max_length` (`MAX`, 0 for
/// none; `KEYED`: the column is a key or indexed, which MySQL stores as
/// `VARCHAR(255)` without a `max_length`) and, on PostgreSQL, for a NUL
/// character (which its text types cannot hold). Every backend refuses
/// text over `max_length`, SQLite too (its `TEXT` would keep it), so a
/// value behaves alike wherever it is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text<const MAX: u32, const KEYED: bool>;

impl<const MAX: u32, const KEYED: bool> diesel::query_builder::QueryId for Text<MAX, KEYED> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const MAX: u32, const KEYED: bool> sql_types::SqlType for Text<MAX, KEYED> {
    type IsNull = sql_types::is_nullable::NotNull;
}

impl<const MAX: u32, const KEYED: bool> sql_types::SingleValue for Text<MAX, KEYED> {}

impl<const MAX: u32, const KEYED: bool> HasSqlType<Text<MAX, KEYED>> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Text<MAX, KEYED>>(lookup)
    }
}

impl<const MAX: u32, const KEYED: bool> ToSql<Text<MAX, KEYED>, MultiBackend> for String {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> diesel::serialize::Result {
        out.set_value((Text::<MAX, KEYED>, self));
        Ok(IsNull::No)
    }
}

/// What `backend` refuses of `value` in a text column (see [`Text`]).
pub(crate) fn text_check(
    backend: &'static str,
    value: &str,
    max: u32,
    keyed: bool,
) -> Result<(), String> {
    if backend == "PostgreSQL" && value.as_bytes().contains(&0) {
        return Err("PostgreSQL cannot store a NUL character (\\0) in text; remove it, or store the bytes in a Vec<u8> field".into());
    }
    let (limit, why) = match max {
        0 if keyed && backend == "MySQL" => (255, "MySQL/MariaDB stores a keyed text column without `max_length` as VARCHAR(255); give the field a `max_length` to change it"),
        0 => return Ok(()),
        max => (max, "the field's `max_length`"),
    };
    // Bytes bound the characters: most values need no count.
    if value.len() <= limit as usize {
        return Ok(());
    }
    match value.chars().count() {
        n if n > limit as usize => Err(format!("{n} characters is more than {limit} ({why})")),
        _ => Ok(()),
    }
}

/// The `ToSql` of [`Text`] on each backend: the check, then diesel's text.
macro_rules! checked_text {
    ($(#[$cfg:meta] $backend:ty, $label:literal;)+) => {
        $(
            #[$cfg]
            impl<const MAX: u32, const KEYED: bool> HasSqlType<Text<MAX, KEYED>> for $backend {
                fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                    <$backend as HasSqlType<sql_types::Text>>::metadata(lookup)
                }
            }

            #[$cfg]
            impl<const MAX: u32, const KEYED: bool> ToSql<Text<MAX, KEYED>, $backend> for String {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> diesel::serialize::Result {
                    if let Err(reason) = text_check($label, self, MAX, KEYED) {
                        return bad(reason);
                    }
                    <String as ToSql<sql_types::Text, $backend>>::to_sql(self, out)
                }
            }
        )+
    };
}

checked_text! {
    #[cfg(feature = "sqlite")] diesel::sqlite::Sqlite, "SQLite";
    #[cfg(feature = "postgres")] diesel::pg::Pg, "PostgreSQL";
    #[cfg(feature = "mysql")] diesel::mysql::Mysql, "MySQL";
}
