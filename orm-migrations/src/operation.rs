//! One schema change, applied to a recorded state or reversed.

use orm_core::schema::{ColumnDef, TableDef};

use crate::state::SchemaState;

/// A change to the schema; a migration is a list of them.
///
/// ```
/// use orm_core::{schema::ColumnDef, SqlKind};
/// use orm_migrations::Operation;
/// let add = Operation::AddColumn { table: "tag".into(), column: ColumnDef::new("slug", SqlKind::Text) };
/// assert!(matches!(add.reverse(), Operation::DropColumn { .. }));
/// assert_eq!(add.to_string(), "add column tag.slug");
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `CREATE TABLE` (with its indexes).
    CreateTable(TableDef),
    /// `DROP TABLE`.
    DropTable(TableDef),
    /// Rename a table (`#[orm(renamed_from)]` on the struct).
    RenameTable {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Add a column.
    AddColumn {
        /// The table.
        table: String,
        /// The new column.
        column: ColumnDef,
    },
    /// Drop a column.
    DropColumn {
        /// The table.
        table: String,
        /// The column dropped.
        column: ColumnDef,
    },
    /// Rename a column (`#[orm(renamed_from)]` on the field).
    RenameColumn {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Change a column's type, nullability, default, length, unique,
    /// index, foreign key or accepted values.
    AlterColumn {
        /// The table.
        table: String,
        /// The column before.
        from: ColumnDef,
        /// The column after (same name).
        to: ColumnDef,
    },
    /// Change the table's `unique_together`.
    AlterUniqueTogether {
        /// The table.
        table: String,
        /// The columns before (empty: none).
        from: Vec<String>,
        /// The columns after (empty: none).
        to: Vec<String>,
    },
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::CreateTable(t) => write!(f, "create table {}", t.name),
            Operation::DropTable(t) => write!(f, "drop table {}", t.name),
            Operation::RenameTable { from, to } => write!(f, "rename table {from} to {to}"),
            Operation::AddColumn { table, column } => {
                write!(f, "add column {table}.{}", column.name)
            }
            Operation::DropColumn { table, column } => {
                write!(f, "drop column {table}.{}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                write!(f, "rename column {table}.{from} to {to}")
            }
            Operation::AlterColumn { table, to, .. } => {
                write!(f, "alter column {table}.{}", to.name)
            }
            Operation::AlterUniqueTogether { table, .. } => {
                write!(f, "alter unique_together of {table}")
            }
        }
    }
}

impl Operation {
    /// The tables this operation names (both names of a rename).
    pub(crate) fn tables(&self) -> Vec<&str> {
        match self {
            Operation::CreateTable(t) | Operation::DropTable(t) => vec![t.name.as_str()],
            Operation::RenameTable { from, to } => vec![from.as_str(), to.as_str()],
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::AlterUniqueTogether { table, .. } => vec![table.as_str()],
        }
    }

    /// The operation undoing this one.
    pub fn reverse(&self) -> Operation {
        match self.clone() {
            Operation::CreateTable(t) => Operation::DropTable(t),
            Operation::DropTable(t) => Operation::CreateTable(t),
            Operation::RenameTable { from, to } => Operation::RenameTable { from: to, to: from },
            Operation::AddColumn { table, column } => Operation::DropColumn { table, column },
            Operation::DropColumn { table, column } => Operation::AddColumn { table, column },
            Operation::RenameColumn { table, from, to } => Operation::RenameColumn {
                table,
                from: to,
                to: from,
            },
            Operation::AlterColumn { table, from, to } => Operation::AlterColumn {
                table,
                from: to,
                to: from,
            },
            Operation::AlterUniqueTogether { table, from, to } => Operation::AlterUniqueTogether {
                table,
                from: to,
                to: from,
            },
        }
    }

    /// The table the operation changes (its new name for a rename).
    pub fn table(&self) -> &str {
        match self {
            Operation::CreateTable(t) | Operation::DropTable(t) => &t.name,
            Operation::RenameTable { to, .. } => to,
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::AlterUniqueTogether { table, .. } => table,
        }
    }

    /// `state` after this operation. Operations come from a diff of the
    /// same state, so the tables and columns they name exist.
    pub fn apply(&self, state: &mut SchemaState) {
        match self {
            Operation::CreateTable(t) => state.tables.push(t.clone()),
            Operation::DropTable(t) => state.tables.retain(|x| x.name != t.name),
            Operation::RenameTable { from, to } => {
                for table in &mut state.tables {
                    if &table.name == from {
                        table.name = to.clone();
                    }
                    for column in &mut table.columns {
                        if let Some(r) = column.references.as_mut().filter(|r| &r.table == from) {
                            r.table = to.clone();
                        }
                    }
                }
            }
            Operation::AddColumn { table, column } => {
                if let Some(t) = state.table_mut(table) {
                    t.columns.push(column.clone());
                }
            }
            Operation::DropColumn { table, column } => {
                if let Some(t) = state.table_mut(table) {
                    t.columns.retain(|c| c.name != column.name);
                }
            }
            Operation::RenameColumn { table, from, to } => {
                let renamed_table = table.clone();
                for t in &mut state.tables {
                    if t.name == renamed_table {
                        for c in t.columns.iter_mut().filter(|c| &c.name == from) {
                            c.name = to.clone();
                        }
                        for c in t.unique_together.iter_mut().filter(|c| *c == from) {
                            *c = to.clone();
                        }
                    }
                    for c in &mut t.columns {
                        if let Some(r) = c.references.as_mut() {
                            if r.table == renamed_table && &r.column == from {
                                r.column = to.clone();
                            }
                        }
                    }
                }
            }
            Operation::AlterColumn { table, to, .. } => {
                if let Some(c) = state
                    .table_mut(table)
                    .and_then(|t| t.columns.iter_mut().find(|c| c.name == to.name))
                {
                    *c = to.clone();
                }
            }
            Operation::AlterUniqueTogether { table, to, .. } => {
                if let Some(t) = state.table_mut(table) {
                    t.unique_together = to.clone();
                }
            }
        }
    }
}
