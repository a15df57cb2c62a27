//! The schema the models describe, or a migration recorded: the tables
//! compared to make the next migration.

use orm_core::schema::TableDef;
use orm_core::Models;

/// Every table of an app, in creation order (referenced tables first).
///
/// ```
/// use orm_core::prelude::*;
/// use orm_migrations::SchemaState;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Tag {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub name: String,
/// }
///
/// let state = SchemaState::of(&orm_core::models![Tag]);
/// assert_eq!(state.tables[0].name, "tag");
/// assert!(SchemaState::default().tables.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchemaState {
    /// The tables.
    pub tables: Vec<TableDef>,
}

impl SchemaState {
    /// The schema `models` describe.
    pub fn of(models: &Models) -> Self {
        SchemaState {
            tables: models.tables().iter().map(|m| TableDef::of(m)).collect(),
        }
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub(crate) fn table_mut(&mut self, name: &str) -> Option<&mut TableDef> {
        self.tables.iter_mut().find(|t| t.name == name)
    }
}
