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

/// Orders `metas` so each comes after the tables its foreign keys reference
/// (placed just before it), keeping the given order otherwise. References
/// outside the list, to the table itself, or closing a cycle do not move a
/// table.
fn creation_order(metas: Vec<&'static ModelMeta>) -> Vec<&'static ModelMeta> {
    fn visit(
        meta: &'static ModelMeta,
        metas: &[&'static ModelMeta],
        seen: &mut Vec<&'static str>,
        ordered: &mut Vec<&'static ModelMeta>,
    ) {
        if seen.contains(&meta.table) {
            return;
        }
        seen.push(meta.table);
        for reference in meta.columns.iter().filter_map(|c| c.references) {
            let target = (reference.model)().table;
            if let Some(&dependency) = metas.iter().find(|m| m.table == target) {
                visit(dependency, metas, seen, ordered);
            }
        }
        ordered.push(meta);
    }
    let mut seen = Vec::with_capacity(metas.len());
    let mut ordered = Vec::with_capacity(metas.len());
    for &meta in &metas {
        visit(meta, &metas, &mut seen, &mut ordered);
    }
    ordered
}
