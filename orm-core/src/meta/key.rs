//! Key values: the typed [`KeyType`]s a model's key can have, and the
//! dynamic [`Key`] relation caches are bound to.

use std::fmt;
use std::hash::Hash;

use diesel::query_builder::AstPass;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryResult;

use super::{SqlKind, UuidVersion};
use crate::backend::row::{FromRawRow, RawRow};
use crate::backend::MultiBackend;

/// A key value a relation or cache can be bound to: an integer, a text or
/// (feature `uuid`) a UUID key. Non-exhaustive: which variants exist
/// depends on the features, so a `match` needs a wildcard arm.
///
/// ```
/// use orm_core::{Key, KeyType};
/// assert_eq!(7i32.to_key(), Key::Int(7));
/// assert_eq!(i16::from_key(&Key::Int(70_000)), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Key {
    /// An integer key (any width).
    Int(i64),
    /// A text key.
    Text(String),
    /// A UUID key.
    #[cfg(feature = "uuid")]
    Uuid(uuid::Uuid),
}

impl Key {
    /// Reads column `index` of `row`, a key column of SQL type `kind`;
    /// `None` for NULL.
    pub(crate) fn read<R: RawRow + ?Sized>(
        row: &R,
        index: usize,
        kind: SqlKind,
    ) -> diesel::deserialize::Result<Option<Key>> {
        Ok(match kind {
            SqlKind::SmallInt | SqlKind::Integer | SqlKind::BigInt => row.int(index)?.map(Key::Int),
            SqlKind::Text => row.text(index)?.map(Key::Text),
            #[cfg(feature = "uuid")]
            SqlKind::Uuid => crate::backend::row::read::<
                Nullable<diesel::sql_types::Uuid>,
                Option<uuid::Uuid>,
                _,
            >(row, index)?
            .map(Key::Uuid),
            other => return Err(format!("a {other} column cannot hold a key").into()),
        })
    }
}

impl Key {
    /// Binds the key as a parameter: an integer as a `BIGINT`, text as
    /// `TEXT` (every backend compares and assigns a `BIGINT` parameter to
    /// a narrower integer column).
    pub(crate) fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match self {
            Key::Int(i) => out.push_bind_param::<BigInt, i64>(i),
            Key::Text(s) => out.push_bind_param::<Text, String>(s),
            #[cfg(feature = "uuid")]
            Key::Uuid(u) => out.push_bind_param::<diesel::sql_types::Uuid, uuid::Uuid>(u),
        }
    }

    /// Binds a NULL for a key column of SQL type `kind` (PostgreSQL does
    /// not assign a `BIGINT` NULL to a `uuid` column).
    pub(crate) fn bind_null(
        kind: SqlKind,
        out: &mut AstPass<'_, '_, MultiBackend>,
    ) -> QueryResult<()> {
        match kind {
            SqlKind::Text => out.push_bind_param::<Nullable<Text>, Option<String>>(&None),
            #[cfg(feature = "uuid")]
            SqlKind::Uuid => {
                out.push_bind_param::<Nullable<diesel::sql_types::Uuid>, Option<uuid::Uuid>>(&None)
            }
            _ => out.push_bind_param::<Nullable<BigInt>, Option<i64>>(&None),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Text(s) => write!(f, "{s:?}"),
            #[cfg(feature = "uuid")]
            Key::Uuid(u) => write!(f, "{u}"),
        }
    }
}

/// A row of one key column (`INSERT ... RETURNING` keys, keys in the
/// database's order), decoded without a row sink; `None` for NULL.
pub(crate) struct KeyColumn<K>(pub(crate) Option<K>);

impl<K: KeyType> FromRawRow for KeyColumn<K> {
    #[inline]
    fn build<R: RawRow + ?Sized>(row: &R) -> diesel::deserialize::Result<Self> {
        K::read(row, 0).map(KeyColumn)
    }
}

/// Rust types usable as primary keys and relation targets.
///
/// ```
/// use orm_core::{Key, KeyType};
/// assert_eq!(String::from_key(&Key::Text("bob".into())), Some("bob".to_string()));
/// ```
pub trait KeyType:
    sealed::Sealed + Clone + Default + Eq + Hash + fmt::Debug + Send + Sync + 'static
{
    /// The diesel SQL type of a column holding this key.
    type Sql: diesel::sql_types::SqlType + diesel::sql_types::SingleValue + Default;
    /// The SQL type family, for metadata.
    const KIND: SqlKind;
    /// The dynamic form.
    fn to_key(&self) -> Key;
    /// Back from the dynamic form; `None` when it does not fit.
    fn from_key(key: &Key) -> Option<Self>;
    /// A key from its text form (a submitted id, a URL segment); `None`
    /// when `raw` is not one.
    ///
    /// ```
    /// use orm_core::KeyType;
    /// assert_eq!(i32::parse("42"), Some(42));
    /// assert_eq!(i16::parse("40000"), None);
    /// assert_eq!(String::parse("bob"), Some("bob".to_string()));
    /// ```
    fn parse(raw: &str) -> Option<Self>;
    /// Reads the (nullable) column `index` of a result row.
    #[doc(hidden)]
    fn read<R: RawRow + ?Sized>(row: &R, index: usize)
        -> diesel::deserialize::Result<Option<Self>>;
    /// Binds an optional key (a foreign-key column) as a parameter.
    #[doc(hidden)]
    fn bind<'b>(key: Option<&'b Self>, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()>;
    /// A new key of `version`, for a key generated in Rust when unset
    /// (`None`: this type is not generated).
    #[doc(hidden)]
    fn generate(version: UuidVersion) -> Option<Self> {
        let _ = version;
        None
    }
}

/// Reads the key column `index` of a row (`None` for NULL): what generated
/// `from_row` code reads a nullable foreign key with. An integer key is
/// decoded by the row's own backend, without `MultiBackend`'s dispatch.
#[doc(hidden)]
#[inline]
pub fn read_key<K: KeyType, R: RawRow + ?Sized>(
    row: &R,
    index: usize,
) -> diesel::deserialize::Result<Option<K>> {
    K::read(row, index)
}

/// Reads a `NOT NULL` key column (a primary key, a required foreign key).
#[doc(hidden)]
#[inline]
pub fn read_required_key<K: KeyType, R: RawRow + ?Sized>(
    row: &R,
    index: usize,
) -> diesel::deserialize::Result<K> {
    K::read(row, index)?.ok_or_else(|| Box::new(diesel::result::UnexpectedNullError) as _)
}

/// `KeyType` is implemented for the key types the derive maps, and only
/// for them: the generated SQL and row decoding depend on it.
mod sealed {
    pub trait Sealed {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for String {}
    #[cfg(feature = "uuid")]
    impl Sealed for uuid::Uuid {}
}

macro_rules! int_key {
    ($($t:ty => $sql:ident),*) => {$(
        impl KeyType for $t {
            type Sql = diesel::sql_types::$sql;
            const KIND: SqlKind = SqlKind::$sql;
            fn to_key(&self) -> Key {
                Key::Int(i64::from(*self))
            }
            fn from_key(key: &Key) -> Option<Self> {
                match key {
                    Key::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
            fn parse(raw: &str) -> Option<Self> {
                raw.parse().ok()
            }
            fn read<R: RawRow + ?Sized>(row: &R, index: usize) -> diesel::deserialize::Result<Option<Self>> {
                // The column has this width: the value fits.
                Ok(row.int(index)?.and_then(|v| <$t>::try_from(v).ok()))
            }
            fn bind<'b>(key: Option<&'b Self>, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
                match key {
                    Some(key) => out.push_bind_param::<diesel::sql_types::$sql, $t>(key),
                    None => out.push_bind_param::<Nullable<diesel::sql_types::$sql>, Option<$t>>(&None),
                }
            }
        }
    )*};
}
int_key!(i16 => SmallInt, i32 => Integer, i64 => BigInt);

impl KeyType for String {
    type Sql = Text;
    const KIND: SqlKind = SqlKind::Text;
    fn to_key(&self) -> Key {
        Key::Text(self.clone())
    }
    fn from_key(key: &Key) -> Option<Self> {
        match key {
            Key::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn parse(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
    fn read<R: RawRow + ?Sized>(
        row: &R,
        index: usize,
    ) -> diesel::deserialize::Result<Option<Self>> {
        row.text(index)
    }
    fn bind<'b>(key: Option<&'b Self>, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match key {
            Some(key) => out.push_bind_param::<Text, String>(key),
            None => out.push_bind_param::<Nullable<Text>, Option<String>>(&None),
        }
    }
}

#[cfg(feature = "uuid")]
impl KeyType for uuid::Uuid {
    type Sql = diesel::sql_types::Uuid;
    const KIND: SqlKind = SqlKind::Uuid;
    fn to_key(&self) -> Key {
        Key::Uuid(*self)
    }
    fn from_key(key: &Key) -> Option<Self> {
        match key {
            Key::Uuid(u) => Some(*u),
            _ => None,
        }
    }
    fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok()
    }
    fn read<R: RawRow + ?Sized>(
        row: &R,
        index: usize,
    ) -> diesel::deserialize::Result<Option<Self>> {
        crate::backend::row::read::<Nullable<diesel::sql_types::Uuid>, Option<Self>, _>(row, index)
    }
    fn bind<'b>(key: Option<&'b Self>, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match key {
            Some(key) => out.push_bind_param::<diesel::sql_types::Uuid, Self>(key),
            None => out.push_bind_param::<Nullable<diesel::sql_types::Uuid>, Option<Self>>(&None),
        }
    }
    fn generate(version: UuidVersion) -> Option<Self> {
        Some(version.generate())
    }
}
