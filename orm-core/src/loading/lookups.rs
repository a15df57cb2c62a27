//! Filters across a relation: the rows whose related rows match a
//! predicate on the related model's table (Django's
//! `filter(choice__votes__gt=10)`).

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;
use diesel::sql_types::{BigInt, BoolOrNullableBool};

use super::path::Rel;
use crate::backend::row::read;
use crate::backend::{AnyConnection, MultiBackend};
use crate::error::Result;
use crate::model::Model;
use crate::query::QuerySet;
use crate::sql::{self, CountRelated, InRelated};

impl<M: Model> QuerySet<M> {
    /// Keeps the rows with at least one related row (through `rel`, any
    /// relation constant: `Choice::QUESTION`, `Question::CHOICES`,
    /// `Question::TAGS`) matching `predicate`, a diesel expression on the
    /// related model's table. One `IN (SELECT …)` subquery, so no row is
    /// repeated, however many related rows match; filters stack (each
    /// related row is matched by its own subquery).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// let mut q = Question { text: "popular?".into(), ..Default::default() };
    /// q.save(&mut conn)?;
    /// q.choices().create(&mut conn, Choice { votes: 12, ..Default::default() })?;
    /// q.choices().create(&mut conn, Choice { votes: 20, ..Default::default() })?;
    /// let popular = Question::objects().filter_related(Question::CHOICES, choice::votes.gt(10));
    /// assert_eq!(popular.count(&mut conn)?, 1); // once, although two choices match
    /// let by_text = Choice::objects().filter_related(Choice::QUESTION, question::text.eq("popular?"));
    /// assert_eq!(by_text.count(&mut conn)?, 2);
    /// # Ok(()) }
    /// ```
    pub fn filter_related<T: Model, J, E>(self, rel: Rel<M, T, J>, predicate: E) -> Self
    where
        E: Expression
            + AppearsOnTable<T::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        self.related(rel, sql::predicate(predicate), false)
    }

    /// Drops the rows with a related row matching `predicate` (rows with
    /// no related row, or a NULL foreign key, stay): the opposite of
    /// [`filter_related`](Self::filter_related).
    pub fn exclude_related<T: Model, J, E>(self, rel: Rel<M, T, J>, predicate: E) -> Self
    where
        E: Expression
            + AppearsOnTable<T::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        self.related(rel, sql::predicate(predicate), true)
    }

    /// Each row with how many related rows it has through `rel` (links,
    /// for a many-to-many): one query, a `COUNT(*)` subquery per row
    /// selected beside the model (Django's `annotate(Count("choice"))`).
    /// Not with `select_related`.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String,
    /// #     #[orm(reverse_of = "question")] pub choices: Related<Choice> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question>, pub votes: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// let mut q = Question { text: "two choices".into(), ..Default::default() };
    /// q.save(&mut conn)?;
    /// q.choices().create(&mut conn, Choice::default())?;
    /// q.choices().create(&mut conn, Choice::default())?;
    /// let counted = Question::objects().annotate_count(&mut conn, Question::CHOICES)?;
    /// assert_eq!(counted[0].1, 2);
    /// # Ok(()) }
    /// ```
    pub fn annotate_count<T: Model, J>(
        &self,
        conn: &mut AnyConnection,
        rel: Rel<M, T, J>,
    ) -> Result<Vec<(M, i64)>> {
        let count = CountRelated {
            outer: M::meta().table,
            lookup: rel.kind().lookup(),
        };
        self.load_annotated(conn, &count, |row, at| read::<BigInt, i64, _>(row, at))
    }

    fn related<T: Model, J>(
        self,
        rel: Rel<M, T, J>,
        predicate: sql::Fragment,
        negated: bool,
    ) -> Self {
        self.with_filter(sql::Fragment::user(InRelated {
            outer: M::meta().table,
            lookup: rel.kind().lookup(),
            predicate,
            negated,
        }))
    }
}
