//! Model metadata and the [`Model`] trait that `#[derive(Model)]` implements.

use std::fmt;
use std::hash::Hash;

use diesel::expression::BoxableExpression;
use diesel::query_builder::QueryFragment;
use diesel::sql_types::{Bool, Nullable};

use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::queryset::QuerySet;
use crate::row::{read, RawRow};

/// The SQL type family of a column, as stored in [`ColumnMeta`].
///
/// ```
/// use orm_core::SqlKind;
/// assert_eq!(SqlKind::BigInt.to_string(), "BigInt");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlKind {
    /// `i16`
    SmallInt,
    /// `i32`
    Integer,
    /// `i64`
    BigInt,
    /// `f32`
    Float,
    /// `f64`
    Double,
    /// `bool`
    Bool,
    /// `String`
    Text,
    /// `Vec<u8>`
    Binary,
    /// `chrono::NaiveDate`
    Date,
    /// `chrono::NaiveTime`
    Time,
    /// `chrono::NaiveDateTime`
    Timestamp,
}

impl fmt::Display for SqlKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What a database does to referencing rows when the referenced row is deleted.
///
/// ```
/// assert_eq!(orm_core::OnDelete::Cascade.sql(), "CASCADE");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnDelete {
    /// Delete the referencing rows too.
    Cascade,
    /// Set the referencing column to NULL (the field must be nullable).
    SetNull,
    /// Refuse to delete the referenced row.
    Restrict,
}

impl OnDelete {
    /// The SQL spelling of the action.
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::Restrict => "RESTRICT",
        }
    }
}

/// A foreign-key constraint on a column.
#[derive(Clone, Copy, Debug)]
pub struct References {
    /// The referenced model's metadata (a function, so models may refer to each other).
    pub model: fn() -> &'static ModelMeta,
    /// The referenced column name; `None` for the referenced model's key.
    pub column: Option<&'static str>,
    /// The delete action.
    pub on_delete: OnDelete,
}

/// One column of a model's table.
#[derive(Clone, Copy, Debug)]
pub struct ColumnMeta {
    /// The Rust field it maps (for a foreign key, the relation field).
    pub field: &'static str,
    /// The column name in the database.
    pub name: &'static str,
    /// The SQL type family.
    pub kind: SqlKind,
    /// Whether NULL is allowed (`Option<T>` fields).
    pub nullable: bool,
    /// Whether this is the primary key.
    pub primary_key: bool,
    /// Whether the database assigns the value (auto-increment key).
    pub auto_increment: bool,
    /// `#[orm(unique)]`
    pub unique: bool,
    /// `#[orm(index)]`
    pub index: bool,
    /// `#[orm(max_length = N)]` for text columns.
    pub max_length: Option<u32>,
    /// The foreign-key constraint, if this column is one.
    pub references: Option<References>,
}

/// One term of an ordering: a column and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderTerm {
    /// The column name.
    pub column: &'static str,
    /// Descending when true (`-column` in `#[orm(ordering = "...")]`).
    pub descending: bool,
}

/// Everything the runtime knows about a model: available as `M::meta()`.
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// #[orm(table = "polls_question", ordering = "-id")]
/// pub struct Question {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub text: String,
/// }
///
/// let meta = Question::meta();
/// assert_eq!(meta.table, "polls_question");
/// assert_eq!(meta.primary_key().name, "id");
/// assert!(meta.ordering[0].descending);
/// ```
#[derive(Debug)]
pub struct ModelMeta {
    /// The struct name.
    pub name: &'static str,
    /// The table name.
    pub table: &'static str,
    /// The columns, in declaration order.
    pub columns: &'static [ColumnMeta],
    /// The default ordering (empty: unordered).
    pub ordering: &'static [OrderTerm],
    /// Columns unique together (`#[orm(unique_together = "a, b")]`).
    pub unique_together: &'static [&'static str],
    /// `#[orm(fetch_mode = "...")]` on the struct.
    pub fetch_mode: Option<crate::peers::FetchMode>,
    /// The through models generated for this model's many-to-many fields;
    /// schema creation creates their tables after the models'.
    pub through: &'static [fn() -> &'static ModelMeta],
}

impl ModelMeta {
    /// The primary-key column.
    pub fn primary_key(&self) -> &ColumnMeta {
        &self.columns[self.primary_key_index()]
    }

    /// The position of the primary-key column among `columns` (the derive
    /// requires one), which is also its position in a row.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { pub name: String, #[orm(primary_key)] pub id: Option<i64> }
    /// assert_eq!(Tag::meta().primary_key_index(), 1);
    /// ```
    pub fn primary_key_index(&self) -> usize {
        self.columns.iter().position(|c| c.primary_key).unwrap_or(0)
    }

    /// The column of the given name, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A key value a relation or cache can be bound to: an integer or a text key.
///
/// ```
/// use orm_core::{Key, KeyType};
/// assert_eq!(7i32.to_key(), Key::Int(7));
/// assert_eq!(i16::from_key(&Key::Int(70_000)), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An integer key (any width).
    Int(i64),
    /// A text key.
    Text(String),
}

impl Key {
    /// Reads column `index` of `row`, a key column of SQL type `kind`;
    /// `None` for NULL.
    pub(crate) fn read(
        row: &dyn RawRow,
        index: usize,
        kind: SqlKind,
    ) -> diesel::deserialize::Result<Option<Key>> {
        Ok(match kind {
            SqlKind::SmallInt => i16::read(row, index)?.map(|k| k.to_key()),
            SqlKind::Integer => i32::read(row, index)?.map(|k| k.to_key()),
            SqlKind::BigInt => i64::read(row, index)?.map(Key::Int),
            SqlKind::Text => String::read(row, index)?.map(Key::Text),
            other => return Err(format!("a {other} column cannot hold a key").into()),
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Rust types usable as primary keys and relation targets.
///
/// ```
/// use orm_core::{Key, KeyType};
/// assert_eq!(String::from_key(&Key::Text("bob".into())), Some("bob".to_string()));
/// ```
pub trait KeyType: sealed::Sealed + Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static {
    /// The diesel SQL type of a column holding this key.
    type Sql: diesel::sql_types::SqlType + diesel::sql_types::SingleValue + Default;
    /// The SQL type family, for metadata.
    const KIND: SqlKind;
    /// The dynamic form.
    fn to_key(&self) -> Key;
    /// Back from the dynamic form; `None` when it does not fit.
    fn from_key(key: &Key) -> Option<Self>;
    /// Reads the (nullable) column `index` of a result row.
    #[doc(hidden)]
    fn read(row: &dyn RawRow, index: usize) -> diesel::deserialize::Result<Option<Self>>;
}

/// `KeyType` is implemented for the key types the derive maps, and only
/// for them: the generated SQL and row decoding depend on it.
mod sealed {
    pub trait Sealed {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for String {}
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
                    Key::Text(_) => None,
                }
            }
            fn read(row: &dyn RawRow, index: usize) -> diesel::deserialize::Result<Option<Self>> {
                read::<Nullable<diesel::sql_types::$sql>, Option<$t>>(row, index)
            }
        }
    )*};
}
int_key!(i16 => SmallInt, i32 => Integer, i64 => BigInt);

impl KeyType for String {
    type Sql = diesel::sql_types::Text;
    const KIND: SqlKind = SqlKind::Text;
    fn to_key(&self) -> Key {
        Key::Text(self.clone())
    }
    fn from_key(key: &Key) -> Option<Self> {
        match key {
            Key::Text(s) => Some(s.clone()),
            Key::Int(_) => None,
        }
    }
    fn read(row: &dyn RawRow, index: usize) -> diesel::deserialize::Result<Option<Self>> {
        read::<Nullable<diesel::sql_types::Text>, Option<String>>(row, index)
    }
}

/// A boxed filter on a model's table, as stored in a [`QuerySet`].
pub type Predicate<M> =
    Box<dyn BoxableExpression<<M as Model>::Table, MultiBackend, SqlType = Nullable<Bool>>>;

/// A database-backed model. Implemented by `#[derive(Model)]`; the `__`
/// methods are generated plumbing, not API.
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Author {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(unique, max_length = 100)]
///     pub name: String,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Author>(&mut conn)?;
/// let mut ada = Author { name: "Ada".into(), ..Default::default() };
/// ada.save(&mut conn)?;
/// let again = Author::get(&mut conn, ada.id.unwrap())?;
/// assert_eq!(again.name, "Ada");
/// # Ok(()) }
/// ```
pub trait Model: Sized + Send + Sync + 'static {
    /// The diesel table type (`author::table`).
    type Table: diesel::Table + Default + Send + 'static;
    /// The primary-key type (the inner type for an auto-increment `Option<i64>`).
    type Key: KeyType;
    /// The boxed diesel select over the table.
    #[doc(hidden)]
    type Query: Send + 'static;

    /// The model's metadata.
    fn meta() -> &'static ModelMeta;

    /// The primary-key value; `None` for an auto-increment key not saved yet.
    fn pk(&self) -> Option<Self::Key>;

    #[doc(hidden)]
    fn __all() -> Self::Query;
    #[doc(hidden)]
    fn __filter(query: Self::Query, predicate: Predicate<Self>) -> Self::Query;
    #[doc(hidden)]
    fn __filter_pk(query: Self::Query, key: &Self::Key) -> Self::Query;
    #[doc(hidden)]
    fn __order_default(query: Self::Query) -> Self::Query;
    #[doc(hidden)]
    fn __order_pk(query: Self::Query) -> Self::Query;
    #[doc(hidden)]
    fn __slice(query: Self::Query, limit: Option<i64>, offset: Option<i64>) -> Self::Query;
    /// The default ordering as an `ORDER BY` list; `None` when unordered.
    #[doc(hidden)]
    fn __default_ordering() -> Option<Box<dyn QueryFragment<MultiBackend> + Send>>;
    #[doc(hidden)]
    fn __load(query: Self::Query, conn: &mut AnyConnection) -> Result<Vec<Self>>;
    /// Builds an instance from the columns of `row` starting at `start`
    /// (in the table's column order); relations are unloaded and unlinked.
    #[doc(hidden)]
    fn __from_row(row: &dyn RawRow, start: usize) -> diesel::deserialize::Result<Self>;
    /// Makes the relation caches of `rows` (loaded by one query) peers.
    #[doc(hidden)]
    fn __link_peers<'a>(rows: impl Iterator<Item = &'a Self> + Clone);
    #[doc(hidden)]
    fn __count(query: Self::Query, conn: &mut AnyConnection) -> Result<i64>;
    #[doc(hidden)]
    fn __exists(query: Self::Query, conn: &mut AnyConnection) -> Result<bool>;
    #[doc(hidden)]
    fn __insert(&mut self, conn: &mut AnyConnection) -> Result<()>;
    #[doc(hidden)]
    fn __insert_all(rows: &mut [Self], conn: &mut AnyConnection) -> Result<()>;
    #[doc(hidden)]
    fn __update(&self, conn: &mut AnyConnection) -> Result<usize>;
    #[doc(hidden)]
    fn __delete_where(predicates: Vec<Predicate<Self>>, conn: &mut AnyConnection) -> Result<usize>;
    #[doc(hidden)]
    fn __update_where(
        predicate: Option<Predicate<Self>>,
        changeset: crate::queryset::BoxedChangeset<Self>,
        conn: &mut AnyConnection,
    ) -> Result<usize>;
    #[doc(hidden)]
    fn __delete_pk(key: &Self::Key, conn: &mut AnyConnection) -> Result<usize>;
    #[doc(hidden)]
    fn __clear_pk(&mut self);
    /// `column IN (keys)` for a key, text/integer or foreign-key column;
    /// `None` for another column or keys of the wrong type.
    #[doc(hidden)]
    fn __in_predicate(column: &str, keys: &[Key]) -> Option<Predicate<Self>>;
    /// `SET column = value` for a foreign-key column.
    #[doc(hidden)]
    fn __set_changeset(
        column: &str,
        value: Option<Key>,
    ) -> Option<crate::queryset::BoxedChangeset<Self>>;
    /// The value of a key or foreign-key column.
    #[doc(hidden)]
    fn __column_key(&self, column: &str) -> Option<Key>;
    /// Points the foreign key stored in `column` at `key`.
    #[doc(hidden)]
    fn __set_relation_key(&mut self, column: &str, key: Option<Key>);
    /// Compares two instances by the model's default ordering.
    #[doc(hidden)]
    fn __cmp_default(a: &Self, b: &Self) -> std::cmp::Ordering;
    /// Stores an instance-level fetch mode in every relation field.
    #[doc(hidden)]
    fn __set_fetch_mode(&self, mode: Option<crate::peers::FetchMode>);
    /// The instance-level fetch mode, if one was set or inherited.
    #[doc(hidden)]
    fn __fetch_mode(&self) -> Option<crate::peers::FetchMode>;
    /// Drops every cached relation of the instance.
    #[doc(hidden)]
    fn __invalidate_relations(&mut self);
    /// The plain fields a form edits.
    #[doc(hidden)]
    fn __form_fields() -> &'static [crate::forms::FormField];
    /// Parses a submitted value into a plain field; `None` for another field.
    #[doc(hidden)]
    fn __form_assign(&mut self, field: &str, raw: &str) -> Option<std::result::Result<(), String>>;
    /// The relations a form can set, with their default choices.
    #[doc(hidden)]
    fn __form_relations() -> Vec<Box<dyn crate::forms::Chooser<Self>>>;

    /// Drops every cached relation of this instance (forward objects,
    /// reverse and many-to-many rows); keys stay. The next access loads
    /// again. `refresh_from_db` does this too.
    fn invalidate_relations(&mut self) {
        self.__invalidate_relations();
    }

    /// Sets this instance's fetch mode (see [`peers`](crate::peers) for the
    /// precedence); objects loaded through it inherit the mode.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # use orm_core::peers::FetchMode;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
    /// let choice = Choice::default();
    /// choice.set_fetch_mode(FetchMode::Raise);
    /// assert_eq!(choice.fetch_mode(), Some(FetchMode::Raise));
    /// ```
    fn set_fetch_mode(&self, mode: crate::peers::FetchMode) {
        self.__set_fetch_mode(Some(mode));
    }

    /// This instance's own fetch mode, if set or inherited (models without
    /// relation fields have none).
    fn fetch_mode(&self) -> Option<crate::peers::FetchMode> {
        self.__fetch_mode()
    }

    /// A queryset over all rows, in the model's default ordering.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// let all: QuerySet<Tag> = Tag::objects();
    /// ```
    fn objects() -> QuerySet<Self> {
        QuerySet::new()
    }

    /// Loads the row with primary key `key`.
    ///
    /// Errors with [`OrmError::NotFound`] when there is none.
    fn get(conn: &mut AnyConnection, key: Self::Key) -> Result<Self> {
        let query = Self::__filter_pk(Self::__all(), &key);
        Self::__load(query, conn)?.pop().ok_or(OrmError::NotFound {
            model: Self::meta().name,
        })
    }

    /// Inserts the row (no key yet, or a key no row has) or updates it.
    ///
    /// An auto-increment key is filled in. One query for a new auto-key row
    /// and for an update; a row with a manual key that does not exist yet
    /// costs an UPDATE and an INSERT (use [`insert`](Self::insert) to skip the UPDATE).
    fn save(&mut self, conn: &mut AnyConnection) -> Result<()> {
        if self.pk().is_none() {
            return self.__insert(conn);
        }
        if self.__update(conn)? == 0 {
            self.__insert(conn)?;
        }
        Ok(())
    }

    /// Inserts the row; an auto-increment key is filled in. One query.
    fn insert(&mut self, conn: &mut AnyConnection) -> Result<()> {
        self.__insert(conn)
    }

    /// Deletes the row. An auto-increment key is cleared, so a later
    /// `save` inserts a new row. Errors with [`OrmError::Unsaved`] when the
    /// instance has no key.
    fn delete(&mut self, conn: &mut AnyConnection) -> Result<usize> {
        let key = self.pk().ok_or(OrmError::Unsaved {
            model: Self::meta().name,
        })?;
        let deleted = Self::__delete_pk(&key, conn)?;
        self.__clear_pk();
        Ok(deleted)
    }

    /// Reloads every field from the database, dropping cached relations
    /// (the instance keeps its fetch mode).
    fn refresh_from_db(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let key = self.pk().ok_or(OrmError::Unsaved {
            model: Self::meta().name,
        })?;
        let mode = self.__fetch_mode();
        *self = Self::get(conn, key)?;
        self.__set_fetch_mode(mode);
        Ok(())
    }
}
