//! Ordering across a to-one relation: questions by their author's name
//! (Django's `order_by("author__name")`), one `LEFT OUTER JOIN` per
//! relation, no repeated rows.

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;

use super::path::ToOneRel;
use crate::backend::MultiBackend;
use crate::model::Model;
use crate::query::QuerySet;
use crate::sql::{Fragment, OrderJoin};

impl<M: Model> QuerySet<M> {
    /// Orders by `order`, an ordering on the table of the to-one relation
    /// `rel` (a foreign key, one-to-one or reverse one-to-one constant:
    /// `Question::AUTHOR`), replacing any earlier ordering. The related
    /// table is joined with `LEFT OUTER JOIN` (not selected): at most one
    /// related row per row, so no row repeats, and rows without a related
    /// row stay (their values sort as NULL: first on SQLite and MySQL,
    /// last on PostgreSQL in ascending order). Same query counts as
    /// without; `iter` pages by `OFFSET`. Several relations can be
    /// combined with [`then_order_by_related`](Self::then_order_by_related);
    /// a relation to the model's own table, or two relations to one
    /// table, are `OrmError::InvalidQuery` when run (the expression names
    /// the table, which would be ambiguous). `count`, `exists`, `update`
    /// and `delete` ignore the ordering and join nothing.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Author { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String, pub author: ForeignKey<Author> }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Author::meta(), Question::meta()])?;
    /// for (name, text) in [("Zoe", "first"), ("Ada", "second")] {
    ///     let mut author = Author { name: name.into(), ..Default::default() };
    ///     author.save(&mut conn)?;
    ///     let mut q = Question { text: text.into(), ..Default::default() };
    ///     q.set_author(author);
    ///     q.save(&mut conn)?;
    /// }
    /// // SELECT question.* FROM question
    /// //   LEFT OUTER JOIN author ON author.id = question.author_id
    /// //   ORDER BY author.name ASC, question.id ASC
    /// let by_author = orm_core::assert_num_queries(&mut conn, 1, |conn| {
    ///     Question::objects()
    ///         .order_by_related(Question::AUTHOR, author::name.asc())
    ///         .then_order_by(question::id.asc())
    ///         .load(conn)
    /// })?;
    /// assert_eq!(by_author.iter().map(|q| q.text.as_str()).collect::<Vec<_>>(), ["second", "first"]);
    /// # Ok(()) }
    /// ```
    pub fn order_by_related<T: Model, O>(self, rel: ToOneRel<M, T>, order: O) -> Self
    where
        O: Expression
            + AppearsOnTable<T::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.unordered().then_order_by_related(rel, order)
    }

    /// Adds `order`, an ordering on the table of the to-one relation
    /// `rel`, after the current ordering (after the default one if none
    /// was chosen yet); see [`order_by_related`](Self::order_by_related).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Author { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub votes: i32, pub author: ForeignKey<Author> }
    /// // ORDER BY question.votes DESC, author.name ASC
    /// let ranked = Question::objects()
    ///     .order_by(question::votes.desc())
    ///     .then_order_by_related(Question::AUTHOR, author::name.asc());
    /// # let _ = ranked;
    /// ```
    pub fn then_order_by_related<T: Model, O>(self, rel: ToOneRel<M, T>, order: O) -> Self
    where
        O: Expression
            + AppearsOnTable<T::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        let term = Fragment::user(order);
        // Every to-one relation kind has join data.
        let Some((meta, reverse)) = rel.kind().join() else {
            let reason = format!("`{}` cannot be joined to order by", rel.field());
            return self.refused(reason);
        };
        // Forward: target.key = row.fk; reverse one-to-one: target.fk = row.key.
        let (on, parent_column) = if reverse {
            (meta.column, meta.target_column())
        } else {
            (meta.target_column(), meta.column)
        };
        let join = OrderJoin {
            table: T::meta().table,
            on,
            parent_column,
        };
        self.then_order_joined(join, term)
    }
}
