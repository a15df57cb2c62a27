//! Column types beyond diesel's common set: UUIDs, time-zone-aware
//! timestamps, JSON.
//!
//! The generated `diesel::table!` gives their columns diesel's own SQL
//! types (`Uuid`, `Timestamptz`, `Jsonb`), so filters use diesel's
//! `AsExpression` impls (`item::id.eq(uuid)`). Those types exist on
//! PostgreSQL only (`Jsonb` on SQLite too); on the other backends a value
//! is written in an *encoding* of orm-core's (`enc`), a SQL type naming each
//! backend's own type (see `docs/models.md` for the SQL each backend gets).
//!
//! diesel's `MultiConnection` covers only the SQL types every backend
//! shares; its documentation describes how to add others, and this module
//! follows it: `HasSqlType`, `FromSql` and `ToSql` for each backend and for
//! [`MultiBackend`](crate::MultiBackend).

mod datetime;
#[cfg(feature = "bigdecimal")]
pub(crate) mod decimal;
pub(crate) mod enc;
pub(crate) mod enum_impls;
pub(crate) mod enums;
#[cfg(feature = "serde_json")]
mod json;
#[cfg(feature = "uuid")]
mod uuid;

#[cfg(feature = "serde_json")]
pub use json::Json;

/// `HasSqlType<$st>` for [`MultiBackend`](crate::MultiBackend), a diesel
/// SQL type the derive gives columns: the metadata of its encoding `$enc`
/// on whichever backend the connection is.
macro_rules! multi_backend_type {
    ($st:ty => $enc:ty) => {
        impl diesel::sql_types::HasSqlType<$st> for crate::backend::MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                crate::backend::MultiBackend::lookup_sql_type::<$enc>(lookup)
            }
        }
    };
}
pub(crate) use multi_backend_type;

/// `FromSql` and `ToSql` on [`MultiBackend`](crate::MultiBackend) for a
/// Rust type `$t` of the column SQL type `$st`: the value is read and
/// written through its encoding `$enc` on the connection's backend.
macro_rules! multi_backend_value {
    ([$($generics:tt)*] $t:ty : $st:ty => $enc:ty) => {
        impl<$($generics)*> diesel::deserialize::FromSql<$st, crate::backend::MultiBackend> for $t {
            fn from_sql(
                bytes: <crate::backend::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                bytes.from_sql::<Self, $enc>()
            }
        }

        impl<$($generics)*> diesel::serialize::ToSql<$st, crate::backend::MultiBackend> for $t {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, crate::backend::MultiBackend>,
            ) -> diesel::serialize::Result {
                out.set_value((<$enc>::default(), self));
                Ok(diesel::serialize::IsNull::No)
            }
        }
    };
}
pub(crate) use multi_backend_value;
