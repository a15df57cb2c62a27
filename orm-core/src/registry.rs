//! The app's list of models: what `create_all`, migrations and the command
//! line read.

use crate::meta::ModelMeta;

/// The models of an app, listed once with [`models!`](crate::models), with
/// the through models of their many-to-many fields included.
///
/// [`tables`](Models::tables) orders them so that a table comes after the
/// tables it references (the order to create them in; drop in reverse).
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Author {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub name: String,
/// }
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Book {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub author: ForeignKey<Author>,
///     pub tags: ManyToMany<Tag>,
/// }
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Tag {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
/// }
///
/// // Listed in any order: referenced tables come first.
/// let models = orm_core::models![Book, Tag, Author];
/// let tables: Vec<&str> = models.tables().iter().map(|m| m.table).collect();
/// assert_eq!(tables, ["author", "book", "tag", "book_tags"]);
/// ```
#[derive(Clone, Debug)]
pub struct Models {
    tables: Vec<&'static ModelMeta>,
}

/// Lists an app's models for [`Models`]: `orm_core::models![Author, Book]`.
#[macro_export]
macro_rules! models {
    ($($model:ty),* $(,)?) => {
        $crate::Models::new(&[$(<$model as $crate::Model>::meta()),*])
    };
}

impl Models {
    /// The models given, their through models, in creation order. A table
    /// listed twice is kept once.
    pub fn new(models: &[&'static ModelMeta]) -> Self {
        let mut listed: Vec<&'static ModelMeta> = Vec::new();
        let through = models
            .iter()
            .flat_map(|m| m.through.iter().map(|through| through()));
        for meta in models.iter().copied().chain(through) {
            if !listed.iter().any(|m| m.table == meta.table) {
                listed.push(meta);
            }
        }
        Models {
            tables: creation_order(listed),
        }
    }

    /// Every table, referenced tables first.
    pub fn tables(&self) -> &[&'static ModelMeta] {
        &self.tables
    }

    /// The model whose table is `table`.
    pub fn table(&self, table: &str) -> Option<&'static ModelMeta> {
        self.tables.iter().copied().find(|m| m.table == table)
    }
}

/// Orders `metas` so each comes after the tables its foreign keys reference,
/// keeping the given order otherwise. References outside the list, to the
/// table itself, or in a cycle do not hold a table back.
fn creation_order(mut pending: Vec<&'static ModelMeta>) -> Vec<&'static ModelMeta> {
    let mut ordered: Vec<&'static ModelMeta> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let waits_for = |meta: &ModelMeta, others: &[&'static ModelMeta]| {
            meta.columns.iter().filter_map(|c| c.references).any(|r| {
                let target = (r.model)().table;
                target != meta.table && others.iter().any(|o| o.table == target)
            })
        };
        let ready = (0..pending.len())
            .find(|&i| !waits_for(pending[i], &pending))
            // A cycle: take the first listed and let the rest follow.
            .unwrap_or(0);
        ordered.push(pending.remove(ready));
    }
    ordered
}
