//! JSON columns (feature `serde_json`): `serde_json::Value`, and any
//! `T: Serialize + DeserializeOwned` through [`Json<T>`]. `jsonb` on
//! PostgreSQL, `JSON` on MySQL and MariaDB, text on SQLite; the column's
//! diesel type is `Jsonb`.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
#[allow(unused_imports)]
use diesel::serialize::{self, IsNull, Output, ToSql};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

use super::enc::Json as Enc;
use crate::error::BadValue;

/// A JSON column holding a `T`: written with `serde_json`, read back into
/// a `T` (a document that does not fit `T` is a typed deserialization
/// error, never a panic).
///
/// It dereferences to `T`; `Json(value)` builds one.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_core::Json;
///
/// #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
/// pub struct Settings {
///     pub theme: String,
///     pub tabs: Vec<u8>,
/// }
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Account {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub settings: Json<Settings>,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Account>(&mut conn)?;
/// let mut a = Account { settings: Json(Settings { theme: "dark".into(), tabs: vec![2] }), ..Default::default() };
/// a.save(&mut conn)?;
/// let again = Account::get(&mut conn, a.id.unwrap_or_default())?;
/// assert_eq!(again.settings.theme, "dark");
/// # Ok(()) }
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    AsExpression,
    FromSqlRow,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(sql_type = diesel::sql_types::Jsonb)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

/// What a value is written and read as: the document itself.
trait Document: Sized {
    type Inner: Serialize + DeserializeOwned;
    fn inner(&self) -> &Self::Inner;
    fn wrap(inner: Self::Inner) -> Self;

    /// The document to write, refused (while binding, so the write names
    /// the field) when it would not read back: JSON has no NaN or
    /// infinity, and `serde_json` writes them as `null`, which a float
    /// field then cannot read (an `Option` one reads `None`).
    fn document(&self) -> Result<Cow<'_, Value>, Box<dyn std::error::Error + Send + Sync>> {
        let value = serde_json::to_value(self.inner())?;
        match Self::Inner::deserialize(&value) {
            Ok(_) => Ok(Cow::Owned(value)),
            Err(e) => Err(Box::new(BadValue {
                field: None,
                reason: format!(
                    "the JSON written would not read back ({e}); a NaN or infinite float becomes null in JSON: store a finite number or an Option"
                ),
            })),
        }
    }
}

impl Document for Value {
    type Inner = Value;
    fn inner(&self) -> &Value {
        self
    }
    fn wrap(inner: Value) -> Self {
        inner
    }
    /// A `Value` holds no NaN: it reads back as written.
    fn document(&self) -> Result<Cow<'_, Value>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Cow::Borrowed(self))
    }
}

impl<T: Serialize + DeserializeOwned> Document for Json<T> {
    type Inner = T;
    fn inner(&self) -> &T {
        &self.0
    }
    fn wrap(inner: T) -> Self {
        Json(inner)
    }
}

/// Whether a string or key of `value` holds a NUL character, which
/// PostgreSQL's `jsonb` refuses.
#[cfg(feature = "postgres")]
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The per-backend encodings of a JSON document `$t`.
macro_rules! json_encodings {
    ([$($generics:tt)*] $t:ty) => {
        /// `jsonb`: diesel's encoding of a `Value`.
        #[cfg(feature = "postgres")]
        impl<$($generics)*> FromSql<Enc, diesel::pg::Pg> for $t {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
                let value = <Value as FromSql<diesel::sql_types::Jsonb, diesel::pg::Pg>>::from_sql(value)?;
                Ok(<$t as Document>::wrap(serde_json::from_value(value)?))
            }
        }

        #[cfg(feature = "postgres")]
        impl<$($generics)*> ToSql<Enc, diesel::pg::Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::pg::Pg>) -> serialize::Result {
                let value = self.document()?;
                if holds_nul(&value) {
                    return Err(Box::new(BadValue {
                        field: None,
                        reason: "PostgreSQL's jsonb cannot hold a NUL character (\\u0000) in a string or key; remove it".into(),
                    }));
                }
                <Value as ToSql<diesel::sql_types::Jsonb, diesel::pg::Pg>>::to_sql(&*value, &mut out.reborrow())
            }
        }

        #[cfg(feature = "mysql")]
        impl<$($generics)*> FromSql<Enc, diesel::mysql::Mysql> for $t {
            fn from_sql(value: diesel::mysql::MysqlValue<'_>) -> deserialize::Result<Self> {
                Ok(<$t as Document>::wrap(serde_json::from_slice(value.as_bytes())?))
            }
        }

        #[cfg(feature = "mysql")]
        impl<$($generics)*> ToSql<Enc, diesel::mysql::Mysql> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::mysql::Mysql>) -> serialize::Result {
                serde_json::to_writer(out, &*self.document()?)?;
                Ok(IsNull::No)
            }
        }

        #[cfg(feature = "sqlite")]
        impl<$($generics)*> FromSql<Enc, diesel::sqlite::Sqlite> for $t {
            fn from_sql(value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite>>::from_sql(value)?;
                Ok(<$t as Document>::wrap(serde_json::from_str(&text)?))
            }
        }

        #[cfg(feature = "sqlite")]
        impl<$($generics)*> ToSql<Enc, diesel::sqlite::Sqlite> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::sqlite::Sqlite>) -> serialize::Result {
                out.set_value(self.document()?.to_string());
                Ok(IsNull::No)
            }
        }

        super::multi_backend_value!([$($generics)*] $t : diesel::sql_types::Jsonb => Enc);
    };
}

json_encodings!([] Value);
json_encodings!([T: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static] Json<T>);
