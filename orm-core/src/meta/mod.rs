//! What the derive records about a model: its table, columns, ordering,
//! relations and keys. Everything above this layer reads models through it.

use std::fmt;

mod default;
mod key;

pub use default::ColumnDefault;
pub(crate) use key::KeyColumn;
#[doc(hidden)]
pub use key::{read_key, read_required_key};
pub use key::{Key, KeyType};

/// The SQL type family of a column, as stored in [`ColumnMeta`].
///
/// ```
/// use orm_core::SqlKind;
/// assert_eq!(SqlKind::BigInt.to_string(), "BigInt");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// `chrono::NaiveDate` (and `time::Date`)
    Date,
    /// `chrono::NaiveTime` (and `time::Time`)
    Time,
    /// `chrono::NaiveDateTime` (and `time::PrimitiveDateTime`)
    Timestamp,
    /// `uuid::Uuid` (feature `uuid`)
    Uuid,
    /// `chrono::DateTime<Utc>` (and `time::OffsetDateTime`): an instant
    TimestampTz,
    /// `serde_json::Value` and `Json<T>` (feature `serde_json`)
    Json,
    /// `bigdecimal::BigDecimal` (feature `bigdecimal`)
    Decimal,
}

impl fmt::Display for SqlKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How a primary key `Option<uuid::Uuid>` that is `None` is generated on
/// `save` or `insert`: in Rust, before the INSERT, as chosen with
/// `#[orm(primary_key, uuid = "v4" | "v7")]` (`v7` when absent).
///
/// - `V7` (the default): time-ordered (a millisecond timestamp, then random
///   bits), so new rows land at the end of the key's index, as with an
///   auto-increment key. It reveals when the row was created.
/// - `V4`: 122 random bits; reveals nothing, but scatters inserts over the
///   whole index.
///
/// ```
/// # #[cfg(feature = "uuid")] {
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Session {
///     #[orm(primary_key, uuid = "v4")]
///     pub id: Option<uuid::Uuid>,
/// }
/// assert_eq!(Session::meta().primary_key().generated, Some(orm_core::UuidVersion::V4));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UuidVersion {
    /// Random (`Uuid::new_v4`).
    V4,
    /// Unix-time ordered (`Uuid::now_v7`).
    V7,
}

/// The values an enum column stores (`#[derive(OrmEnum)]`), listed in its
/// `CHECK` constraint.
///
/// ```
/// use orm_core::Choices;
/// assert_eq!(Choices::Text(&["draft", "it's"]).sql_list(), "'draft', 'it''s'");
/// assert_eq!(Choices::Integer(&[1, -2]).sql_list(), "1, -2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choices {
    /// Not an enum column.
    None,
    /// Stored as text.
    Text(&'static [&'static str]),
    /// Stored as an integer.
    Integer(&'static [i32]),
}

impl Choices {
    /// `value` as an SQL text literal.
    pub(crate) fn quote(self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// The values as SQL literals, comma-separated.
    pub fn sql_list(self) -> String {
        match self {
            Choices::None => String::new(),
            Choices::Text(values) => values
                .iter()
                .map(|v| self.quote(v))
                .collect::<Vec<_>>()
                .join(", "),
            Choices::Integer(values) => values
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What a database does to referencing rows when the referenced row is deleted.
///
/// ```
/// assert_eq!(orm_core::OnDelete::Cascade.sql(), "CASCADE");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// The referenced field (`to_field`; its column is
    /// [`ModelMeta::field_column`]); `None` for the referenced model's key.
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
    /// `#[orm(max_digits = P, decimal_places = S)]` for decimal columns:
    /// `(P, S)`.
    pub decimal: Option<(u32, u32)>,
    /// For a key `Option<Uuid>`: the version generated on `save` or
    /// `insert` when it is `None`.
    pub generated: Option<UuidVersion>,
    /// For an enum column, the values it stores (a `CHECK` constraint).
    pub choices: Choices,
    /// The foreign-key constraint, if this column is one.
    pub references: Option<References>,
    /// `#[orm(default = ...)]`: the database default.
    pub default: Option<ColumnDefault>,
    /// `#[orm(renamed_from = "old")]`: the column's previous name, read by
    /// migrations to rename instead of dropping and adding.
    pub renamed_from: Option<&'static str>,
}

impl ColumnMeta {
    /// A NOT NULL column with no other option; the builder methods below
    /// add them (what the derive generates).
    ///
    /// ```
    /// use orm_core::{ColumnMeta, SqlKind};
    /// const ID: ColumnMeta = ColumnMeta::new("id", "id", SqlKind::BigInt).primary_key().auto_increment();
    /// assert!(ID.primary_key && ID.auto_increment && !ID.nullable);
    /// ```
    pub const fn new(field: &'static str, name: &'static str, kind: SqlKind) -> Self {
        ColumnMeta {
            field,
            name,
            kind,
            nullable: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            index: false,
            max_length: None,
            decimal: None,
            generated: None,
            choices: Choices::None,
            references: None,
            default: None,
            renamed_from: None,
        }
    }

    /// NULL allowed.
    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    /// The primary key.
    pub const fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self
    }

    /// Assigned by the database.
    pub const fn auto_increment(mut self) -> Self {
        self.auto_increment = true;
        self
    }

    /// A unique constraint.
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// An index.
    pub const fn index(mut self) -> Self {
        self.index = true;
        self
    }

    /// A length limit (text).
    pub const fn max_length(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }

    /// A precision and scale (decimal).
    pub const fn decimal(mut self, max_digits: u32, decimal_places: u32) -> Self {
        self.decimal = Some((max_digits, decimal_places));
        self
    }

    /// A key generated in Rust when unset (a UUID of `version`).
    pub const fn generated(mut self, version: UuidVersion) -> Self {
        self.generated = Some(version);
        self
    }

    /// The values of an enum column.
    pub const fn choices(mut self, choices: Choices) -> Self {
        self.choices = choices;
        self
    }

    /// A foreign-key constraint.
    pub const fn references(mut self, references: References) -> Self {
        self.references = Some(references);
        self
    }

    /// A database default.
    pub const fn default(mut self, value: ColumnDefault) -> Self {
        self.default = Some(value);
        self
    }

    /// The column's previous name (for migrations).
    pub const fn renamed_from(mut self, old: &'static str) -> Self {
        self.renamed_from = Some(old);
        self
    }
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
    pub fetch_mode: Option<FetchMode>,
    /// The through models generated for this model's many-to-many fields;
    /// schema creation creates their tables after the models'.
    pub through: &'static [fn() -> &'static ModelMeta],
    /// `#[orm(renamed_from = "old_table")]` on the struct: the table's
    /// previous name, read by migrations to rename instead of dropping and
    /// creating.
    pub renamed_from: Option<&'static str>,
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

    /// The column storing the Rust field `field` (its `column = "..."`
    /// name, if it has one); `field` itself if no column stores it.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct User { #[orm(primary_key)] pub id: Option<i64>, #[orm(unique, column = "user_code")] pub code: i64 }
    /// assert_eq!(User::meta().field_column("code"), "user_code");
    /// ```
    pub fn field_column(&self, field: &'static str) -> &'static str {
        self.columns
            .iter()
            .find(|c| c.field == field)
            .map_or(field, |c| c.name)
    }

    /// The column of the given name, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// How a relation that is not loaded yet is fetched (see
/// [`fetch`](crate::fetch) for where a mode is set and which one wins).
///
/// ```
/// use orm_core::fetch::{with_fetch_mode, current_fetch_mode, FetchMode};
/// assert_eq!(current_fetch_mode(), FetchMode::Peers);
/// with_fetch_mode(FetchMode::Raise, || assert_eq!(current_fetch_mode(), FetchMode::Raise));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchMode {
    /// Fetch for this instance only (one query per instance).
    One,
    /// Fetch for every live peer in one query (the default).
    Peers,
    /// Refuse: `Fetching of Model.field blocked.`
    Raise,
}

/// Static description of a foreign key or one-to-one, generated by the derive.
#[derive(Debug)]
pub struct RelationMeta {
    /// The model declaring the field (`Choice`).
    pub model: &'static str,
    /// The field (`question`).
    pub field: &'static str,
    /// The local column (`question_id`).
    pub column: &'static str,
    /// The target model's metadata.
    pub target_meta: fn() -> &'static ModelMeta,
    /// The target's field when it is not the target's key (`to_field`).
    pub to_field: Option<&'static str>,
    /// Whether the column allows NULL.
    pub nullable: bool,
    /// The declared fetch mode: the field's `#[orm(fetch_mode)]`, else the
    /// model's.
    pub fetch_mode: Option<FetchMode>,
}

impl RelationMeta {
    /// The target model's name.
    pub fn target(&self) -> &'static str {
        (self.target_meta)().name
    }

    /// The target column: the `to_field`'s column, or the target's
    /// primary key.
    pub fn target_column(&self) -> &'static str {
        let target = (self.target_meta)();
        match self.to_field {
            Some(field) => target.field_column(field),
            None => target.primary_key().name,
        }
    }
}
