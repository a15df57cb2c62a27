//! `distinct()` and PostgreSQL's `distinct_on(...)`.

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;

use super::QuerySet;
use crate::backend::{AnyConnection, BackendKind, MultiBackend};
use crate::error::{OrmError, Result};
use crate::model::Model;
use crate::sql::{Distinct, Fragment, Order};

impl<M: Model> QuerySet<M> {
    /// Keeps only distinct rows: `SELECT DISTINCT`. It matters for
    /// [`values_list`](Self::values_list) (the distinct values of some
    /// columns); rows of the model itself are distinct already (they hold
    /// their key, filters across relations are subqueries and
    /// `select_related` joins to-one relations), so their selects leave
    /// the keyword out (PostgreSQL would refuse it with some orderings
    /// and with `select_for_update`). With `distinct`, `values_list` leaves out the model's
    /// default ordering (PostgreSQL refuses `SELECT DISTINCT` ordered by a
    /// column it does not select): order by selected columns with
    /// `order_by`. Same query counts as without.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "-votes")]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question_id: i64, pub votes: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Choice>(&mut conn)?;
    /// # for (question_id, votes) in [(1, 3), (1, 5), (2, 0)] { Choice { question_id, votes, ..Default::default() }.save(&mut conn)?; }
    /// // SELECT DISTINCT question_id FROM choice ORDER BY question_id ASC
    /// let questions: Vec<(i64,)> = Choice::objects()
    ///     .distinct()
    ///     .order_by(choice::question_id.asc())
    ///     .values_list(&mut conn, (choice::question_id,))?;
    /// assert_eq!(questions, [(1,), (2,)]);
    /// # Ok(()) }
    /// ```
    pub fn distinct(mut self) -> Self {
        self.distinct = Some(Vec::new());
        self
    }

    /// PostgreSQL only: keeps the first row of each group of rows with
    /// equal `columns` (a column or a tuple of columns of `M`'s table),
    /// `SELECT DISTINCT ON (columns)`. The columns lead the `ORDER BY`
    /// (PostgreSQL requires it); the queryset's ordering follows them and
    /// decides which row of a group is first. Same query counts as
    /// without; `iter` then pages by `OFFSET`.
    ///
    /// On SQLite and MySQL every call that runs it returns
    /// [`OrmError::InvalidQuery`] at run time, sending nothing (the
    /// backend is chosen at run time, so this cannot be a compile error):
    /// group with a subquery there, or `values_list` with `distinct`.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub author_id: i64, pub pub_date: i64 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Question>(&mut conn)?;
    /// // The latest question of each author; on PostgreSQL:
    /// // SELECT DISTINCT ON (author_id) ... ORDER BY author_id, pub_date DESC
    /// let latest = Question::objects()
    ///     .distinct_on(question::author_id)
    ///     .order_by(question::pub_date.desc());
    /// let err = latest.load(&mut conn).unwrap_err(); // SQLite: refused
    /// assert!(matches!(err, orm_core::OrmError::InvalidQuery { .. }));
    /// # Ok(()) }
    /// ```
    pub fn distinct_on<E>(mut self, columns: E) -> Self
    where
        E: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.distinct = Some(vec![Fragment::user(columns)]);
        self
    }

    /// The `DISTINCT ON` terms, if any.
    pub(super) fn distinct_on_terms(&self) -> Option<&[Fragment]> {
        self.distinct.as_deref().filter(|terms| !terms.is_empty())
    }

    /// The distinct clause of a select of model rows: `DISTINCT ON` only.
    /// Model rows are distinct already (see [`distinct`](Self::distinct)),
    /// and PostgreSQL refuses a plain `DISTINCT` ordered by what it does
    /// not select (a nullable column's `IS NULL` term, a joined column)
    /// and with `FOR UPDATE`.
    pub(super) fn row_distinct(&self) -> Distinct<'_> {
        match self.distinct_sql() {
            Distinct::All => Distinct::No,
            other => other,
        }
    }

    /// The distinct clause of a select of values.
    pub(super) fn distinct_sql(&self) -> Distinct<'_> {
        match self.distinct.as_deref() {
            None => Distinct::No,
            Some([]) => Distinct::All,
            Some(terms) => Distinct::On(terms),
        }
    }

    /// Refuses a select of values that cannot run: PostgreSQL orders a
    /// `SELECT DISTINCT` only by what it selects, and an ordering across
    /// a relation selects nothing of the related table.
    pub(super) fn check_values(&self, conn: &AnyConnection) -> Result<()> {
        if !self.order_joins.is_empty() && matches!(self.distinct_sql(), Distinct::All) {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: "distinct() values ordered across a relation: PostgreSQL refuses to order SELECT DISTINCT by a column it does not select; order by the selected columns".into(),
            });
        }
        self.check(conn)
    }

    /// Refuses `DISTINCT ON` on a backend without it, before sending.
    pub(super) fn check_distinct(&self, conn: &AnyConnection) -> Result<()> {
        if self.distinct_on_terms().is_some() && conn.backend() != BackendKind::Postgres {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: format!(
                    "distinct_on is PostgreSQL's DISTINCT ON, which {} does not have; use distinct() with values_list, or a filter on a subquery",
                    conn.backend()
                ),
            });
        }
        Ok(())
    }

    /// The ordering of `values_list`: without the default ordering under
    /// a plain `DISTINCT` (its columns may not be selected), also when
    /// `then_order_by` added terms after it.
    pub(super) fn values_order(&self) -> Order<'_> {
        match (&self.ordering, self.distinct.as_deref()) {
            (None, Some([])) => Order::Terms(&[]),
            (Some(terms), Some([])) => Order::Terms(&terms[self.default_terms.min(terms.len())..]),
            _ => self.order(),
        }
    }
}
