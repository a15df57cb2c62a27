//! Owned descriptions of tables and columns: what DDL is written from, what
//! migrations record and compare.

use crate::meta::{ColumnMeta, ModelMeta, OnDelete, SqlKind};

/// A table as the database should have it: built from a model's metadata
/// ([`TableDef::of`]) or read back from a migration's recorded state.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_core::schema::TableDef;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Tag {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(max_length = 50, unique)]
///     pub name: String,
/// }
///
/// let table = TableDef::of(Tag::meta());
/// assert_eq!(table.name, "tag");
/// assert_eq!(table.column("name").and_then(|c| c.max_length), Some(50));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TableDef {
    /// The table name.
    pub name: String,
    /// The columns, in declaration order.
    pub columns: Vec<ColumnDef>,
    /// Columns unique together (empty: none).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub unique_together: Vec<String>,
}

/// One column of a [`TableDef`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ColumnDef {
    /// The column name.
    pub name: String,
    /// The SQL type family.
    pub kind: SqlKind,
    /// NULL allowed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub nullable: bool,
    /// The primary key.
    #[cfg_attr(feature = "serde", serde(default))]
    pub primary_key: bool,
    /// Assigned by the database.
    #[cfg_attr(feature = "serde", serde(default))]
    pub auto_increment: bool,
    /// A unique constraint.
    #[cfg_attr(feature = "serde", serde(default))]
    pub unique: bool,
    /// An index.
    #[cfg_attr(feature = "serde", serde(default))]
    pub index: bool,
    /// A length limit (text).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub max_length: Option<u32>,
    /// Precision and scale (decimal).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub decimal: Option<(u32, u32)>,
    /// The database default as an SQL literal (`0`, `'draft'`, `TRUE`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub default: Option<String>,
    /// The values an enum column accepts, as an SQL list (`'a', 'b'`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub choices: Option<String>,
    /// The foreign-key constraint.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub references: Option<ForeignKeyDef>,
}

/// A foreign-key constraint of a [`ColumnDef`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ForeignKeyDef {
    /// The referenced table.
    pub table: String,
    /// The referenced column.
    pub column: String,
    /// The delete action.
    pub on_delete: OnDelete,
}

impl TableDef {
    /// The table `meta` describes.
    pub fn of(meta: &ModelMeta) -> Self {
        TableDef {
            name: meta.table.to_owned(),
            columns: meta.columns.iter().map(ColumnDef::of).collect(),
            unique_together: meta.unique_together.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl ColumnDef {
    /// A NOT NULL column of `kind` with no other option.
    ///
    /// ```
    /// use orm_core::{schema::ColumnDef, SqlKind};
    /// let column = ColumnDef::new("votes", SqlKind::Integer);
    /// assert!(!column.nullable && column.default.is_none());
    /// ```
    pub fn new(name: &str, kind: SqlKind) -> Self {
        ColumnDef {
            name: name.to_owned(),
            kind,
            nullable: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            index: false,
            max_length: None,
            decimal: None,
            default: None,
            choices: None,
            references: None,
        }
    }

    /// The column `meta` describes.
    pub fn of(meta: &ColumnMeta) -> Self {
        ColumnDef {
            name: meta.name.to_owned(),
            kind: meta.kind,
            nullable: meta.nullable,
            primary_key: meta.primary_key,
            auto_increment: meta.auto_increment,
            unique: meta.unique,
            index: meta.index,
            max_length: meta.max_length,
            decimal: meta.decimal,
            default: meta.default.map(|d| d.to_string()),
            choices: (meta.choices != crate::meta::Choices::None).then(|| meta.choices.sql_list()),
            references: meta.references.map(|r| {
                let target = (r.model)();
                ForeignKeyDef {
                    table: target.table.to_owned(),
                    column: r
                        .column
                        .map_or(target.primary_key().name, |field| {
                            target.field_column(field)
                        })
                        .to_owned(),
                    on_delete: r.on_delete,
                }
            }),
        }
    }

    /// Whether an index or constraint covers the column (MySQL then needs a
    /// bounded text type).
    pub fn keyed(&self) -> bool {
        self.primary_key || self.unique || self.index || self.references.is_some()
    }
}
