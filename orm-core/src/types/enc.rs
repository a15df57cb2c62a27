//! Encodings: SQL types naming, on each backend, the type a value of one
//! of orm-core's column types is bound and read as. They are not column
//! types (columns have diesel's `Uuid`, `Timestamptz`, `Jsonb`); values
//! reach them through [`MultiBackend`](crate::MultiBackend)'s `set_value`
//! and `from_sql`.

use diesel::query_builder::QueryId;
use diesel::sql_types::SqlType;

/// A UUID: `uuid` on PostgreSQL; 16 bytes in RFC 4122 order elsewhere
/// (`BINARY(16)` on MySQL, `BLOB` on SQLite), so keys sort alike.
#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(mysql_type(name = "Blob"))]
#[diesel(sqlite_type(name = "Binary"))]
pub struct Uuid;

/// An instant: `timestamptz` on PostgreSQL, a `DATETIME(6)` holding UTC on
/// MySQL, text with a `+00:00` offset on SQLite.
#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(mysql_type(name = "DateTime"))]
#[diesel(sqlite_type(name = "Text"))]
pub struct TimestampTz;

/// A JSON document: `jsonb` on PostgreSQL, text elsewhere (a `JSON`
/// column on MySQL and MariaDB).
#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(mysql_type(name = "String"))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Json;

super::multi_backend_type!(diesel::sql_types::Uuid => Uuid);
super::multi_backend_type!(diesel::sql_types::Timestamptz => TimestampTz);
super::multi_backend_type!(diesel::sql_types::Jsonb => Json);
