//! `uuid::Uuid` columns and keys: native on PostgreSQL, 16 bytes in RFC
//! 4122 order elsewhere; and the versions a generated key can have.

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};

use super::enc::Uuid as SqlUuid;
use crate::meta::UuidVersion;

impl UuidVersion {
    /// A new UUID of this version.
    ///
    /// ```
    /// use orm_core::UuidVersion;
    /// assert_eq!(UuidVersion::V7.generate().get_version_num(), 7);
    /// assert_eq!(UuidVersion::V4.generate().get_version_num(), 4);
    /// ```
    pub fn generate(self) -> uuid::Uuid {
        match self {
            UuidVersion::V4 => uuid::Uuid::new_v4(),
            UuidVersion::V7 => uuid::Uuid::now_v7(),
        }
    }
}

/// A UUID from the 16 bytes a non-PostgreSQL backend stores.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
fn from_bytes(bytes: &[u8]) -> deserialize::Result<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes).map_err(|_| {
        format!(
            "a UUID column holds {} bytes, not 16; store UUIDs through orm-core (16 bytes in RFC 4122 order)",
            bytes.len()
        )
        .into()
    })
}

#[cfg(feature = "postgres")]
impl FromSql<SqlUuid, diesel::pg::Pg> for uuid::Uuid {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(bytes)
    }
}

#[cfg(feature = "postgres")]
impl ToSql<SqlUuid, diesel::pg::Pg> for uuid::Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::pg::Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(self, out)
    }
}

#[cfg(feature = "sqlite")]
impl FromSql<SqlUuid, diesel::sqlite::Sqlite> for uuid::Uuid {
    fn from_sql(value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let bytes =
            <Vec<u8> as FromSql<diesel::sql_types::Binary, diesel::sqlite::Sqlite>>::from_sql(
                value,
            )?;
        from_bytes(&bytes)
    }
}

#[cfg(feature = "sqlite")]
impl ToSql<SqlUuid, diesel::sqlite::Sqlite> for uuid::Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::sqlite::Sqlite>) -> serialize::Result {
        let bytes: &'b [u8] = self.as_bytes();
        <[u8] as ToSql<diesel::sql_types::Binary, diesel::sqlite::Sqlite>>::to_sql(bytes, out)
    }
}

#[cfg(feature = "mysql")]
impl FromSql<SqlUuid, diesel::mysql::Mysql> for uuid::Uuid {
    fn from_sql(value: diesel::mysql::MysqlValue<'_>) -> deserialize::Result<Self> {
        from_bytes(value.as_bytes())
    }
}

#[cfg(feature = "mysql")]
impl ToSql<SqlUuid, diesel::mysql::Mysql> for uuid::Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::mysql::Mysql>) -> serialize::Result {
        let bytes: &'b [u8] = self.as_bytes();
        <[u8] as ToSql<diesel::sql_types::Binary, diesel::mysql::Mysql>>::to_sql(bytes, out)
    }
}

super::multi_backend_value!([] uuid::Uuid : diesel::sql_types::Uuid => SqlUuid);
