//! Querysets: lazy, cloneable descriptions of a query on one model.

use std::fmt;
use std::sync::Arc;

use diesel::expression::{BoxableExpression, Expression};
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use diesel::query_dsl::methods::ThenOrderDsl;
use diesel::sql_types::{Bool, Nullable};
use diesel::BoolExpressionMethods;
use diesel::{Connection, NullableExpressionMethods};

use crate::connection::{AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::joins::{Joins, SelectParts, SelectPath};
use crate::model::{Key, Model, Predicate};
use crate::peers::FetchMode;
use crate::relations::Path;

/// The LIMIT to send with `limit` and `offset`: SQLite and MySQL reject
/// OFFSET without LIMIT, so an offset alone comes with the largest limit.
fn sql_limit(limit: Option<i64>, offset: Option<i64>) -> Option<i64> {
    limit.or(offset.map(|_| i64::MAX))
}

/// Applies limit and offset.
fn slice<M: Model>(query: M::Query, limit: Option<i64>, offset: Option<i64>) -> M::Query {
    M::__slice(query, sql_limit(limit, offset), offset)
}

/// Inserts `rows` with one statement per chunk that fits the backend's bind
/// limit; the caller provides the transaction.
pub(crate) fn insert_chunked<M: Model>(conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
    let per_row = M::meta().columns.len().max(1);
    let chunk = (conn.backend().max_binds() / per_row).max(1);
    rows.chunks_mut(chunk)
        .try_for_each(|rows| M::__insert_all(rows, conn))
}

/// A predicate that is never true (`1 = 0`).
fn never() -> diesel::expression::SqlLiteral<Nullable<Bool>> {
    diesel::dsl::sql::<Nullable<Bool>>("1 = 0")
}

/// Runs a boxed select of `M` and decodes its rows (generated `__load`).
#[doc(hidden)]
pub fn load_rows<M: Model, Q>(query: Q, conn: &mut AnyConnection) -> Result<Vec<M>>
where
    Q: QueryFragment<MultiBackend> + QueryId + 'static,
{
    crate::row::load(conn, crate::row::AsUntyped(query))
}

type PredicateFn<M> = Arc<dyn Fn() -> Predicate<M> + Send + Sync>;
type OrderFn<M> = Arc<dyn OrderClause<M>>;
type OrderFragment = Box<dyn QueryFragment<MultiBackend> + Send>;

/// One `ORDER BY` term of a queryset: applied to the boxed diesel query,
/// or rendered into a joined select.
trait OrderClause<M: Model>: Send + Sync {
    fn apply(&self, query: M::Query) -> M::Query;
    fn fragment(&self) -> Option<OrderFragment>;
}

/// The model's default ordering.
struct DefaultOrder;

impl<M: Model> OrderClause<M> for DefaultOrder {
    fn apply(&self, query: M::Query) -> M::Query {
        M::__order_default(query)
    }

    fn fragment(&self) -> Option<OrderFragment> {
        M::__default_ordering()
    }
}

/// `table.key ASC`, the tie-breaker of chunked reads.
struct KeyOrder(&'static str, &'static str);

impl QueryFragment<MultiBackend> for KeyOrder {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        crate::joins::push_column(&mut out, self.0, self.1)?;
        out.push_sql(" ASC");
        Ok(())
    }
}

/// A column, `column.desc()`, or a tuple of them.
struct OrderBy<O>(O);

impl<M: Model, O> OrderClause<M> for OrderBy<O>
where
    O: QueryFragment<MultiBackend> + Clone + Send + Sync + 'static,
    M::Query: ThenOrderDsl<O, Output = M::Query>,
{
    fn apply(&self, query: M::Query) -> M::Query {
        query.then_order_by(self.0.clone())
    }

    fn fragment(&self) -> Option<OrderFragment> {
        Some(Box::new(self.0.clone()))
    }
}

/// A query on model `M`: filters, ordering and slicing, run by one of the
/// terminal methods (`load`, `get`, `first`, `count`, `exists`, `update`,
/// `delete`). Building it runs nothing; cloning it is cheap.
///
/// Filters are diesel expressions on the table module the derive generates.
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(Model, Debug, Clone, Default)]
/// #[orm(ordering = "-votes")]
/// pub struct Choice {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub text: String,
///     pub votes: i32,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Choice>(&mut conn)?;
/// Choice::objects().bulk_create(&mut conn, &mut [
///     Choice { text: "yes".into(), votes: 3, ..Default::default() },
///     Choice { text: "no".into(), votes: 5, ..Default::default() },
///     Choice { text: "maybe".into(), votes: 0, ..Default::default() },
/// ])?;
/// let popular = Choice::objects().filter(choice::votes.gt(0)).load(&mut conn)?;
/// assert_eq!(popular.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["no", "yes"]);
/// assert_eq!(Choice::objects().exclude(choice::text.eq("no")).count(&mut conn)?, 2);
/// # Ok(()) }
/// ```
pub struct QuerySet<M: Model> {
    filters: Vec<PredicateFn<M>>,
    ordering: Option<Vec<OrderFn<M>>>,
    limit: Option<i64>,
    offset: Option<i64>,
    eager: Vec<Path<M>>,
    joins: Joins<M>,
    fetch_mode: Option<FetchMode>,
}

impl<M: Model> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            filters: self.filters.clone(),
            ordering: self.ordering.clone(),
            limit: self.limit,
            offset: self.offset,
            eager: self.eager.clone(),
            joins: self.joins.clone(),
            fetch_mode: self.fetch_mode,
        }
    }
}

impl<M: Model> fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuerySet")
            .field("model", &M::meta().name)
            .field("filters", &self.filters.len())
            .field(
                "ordering",
                &self.ordering.as_ref().map_or("default", |_| "custom"),
            )
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .field("select_related", &self.joins)
            .field("prefetch_related", &self.eager.len())
            .finish()
    }
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> QuerySet<M> {
    /// All rows of `M` in its default ordering; the same as `M::objects()`.
    pub fn new() -> Self {
        QuerySet {
            filters: Vec::new(),
            ordering: None,
            limit: None,
            offset: None,
            eager: Vec::new(),
            joins: Joins::default(),
            fetch_mode: None,
        }
    }

    /// The fetch mode of the instances this queryset loads (and of what
    /// is loaded through them); see [`peers`](crate::peers).
    pub fn fetch_mode(mut self, mode: FetchMode) -> Self {
        self.fetch_mode = Some(mode);
        self
    }

    /// Loads to-one relations (foreign keys, one-to-ones, reverse
    /// one-to-ones) along `path`
    /// in the same query as the rows, with `LEFT OUTER JOIN`s, so the
    /// accessors cost no query afterwards. `Choice::QUESTION.then(Question::AUTHOR)`
    /// follows a chain of any depth; several paths share their common
    /// hops. Reverse foreign keys and many-to-many relations do not compile here: use
    /// [`prefetch_related`](Self::prefetch_related).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>, pub text: String }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Choice { #[orm(primary_key)] pub id: Option<i64>, pub question: ForeignKey<Question> }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Choice::meta()])?;
    /// let mut q = Question { text: "Why?".into(), ..Default::default() };
    /// q.save(&mut conn)?;
    /// Choice::objects().bulk_create(&mut conn, &mut [
    ///     Choice { question: ForeignKey::from_key(q.id.unwrap()), ..Default::default() },
    ///     Choice { question: ForeignKey::from_key(q.id.unwrap()), ..Default::default() },
    /// ])?;
    /// let choices = orm_core::assert_num_queries(&mut conn, 1, |conn| {
    ///     Choice::objects().select_related(Choice::QUESTION).load(conn)
    /// })?;
    /// orm_core::assert_num_queries(&mut conn, 0, |conn| {
    ///     assert_eq!(choices[1].question(conn)?.text, "Why?");
    ///     Ok::<_, orm_core::OrmError>(())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn select_related(mut self, path: impl SelectPath<M>) -> Self {
        self.joins.add(path.into_join_path());
        self
    }

    /// Loads relations of any kind along `path` with the rows: a reverse
    /// foreign key costs one query, a many-to-many two (links, targets),
    /// nested paths (`Question::CHOICES.then(Choice::QUESTION)`) one hop
    /// after another. The related rows are cached in each instance's slot.
    pub fn prefetch_related(mut self, path: impl Into<Path<M>>) -> Self {
        self.eager.push(path.into());
        self
    }

    fn eager_load(&self, conn: &mut AnyConnection, rows: &[M]) -> Result<()> {
        if self.fetch_mode.is_some() {
            rows.iter()
                .for_each(|r| r.__set_fetch_mode(self.fetch_mode));
        }
        if self.eager.is_empty() || rows.is_empty() {
            return Ok(());
        }
        let refs: Vec<&M> = rows.iter().collect();
        self.eager.iter().try_for_each(|path| path.run(conn, &refs))
    }

    /// Keeps the rows for which `predicate` (a diesel boolean expression on
    /// `M`'s table) is true. Filters combine with AND.
    pub fn filter<E>(mut self, predicate: E) -> Self
    where
        E: Expression + Clone + Send + Sync + 'static,
        diesel::dsl::Nullable<E>:
            BoxableExpression<M::Table, MultiBackend, SqlType = Nullable<Bool>>,
    {
        self.filters
            .push(Arc::new(move || Box::new(predicate.clone().nullable())));
        self
    }

    /// Drops the rows for which `predicate` is true (SQL `NOT (...)`).
    pub fn exclude<E>(self, predicate: E) -> Self
    where
        E: Expression + Clone + Send + Sync + 'static,
        E::SqlType: diesel::sql_types::BoolOrNullableBool,
        diesel::dsl::not<E>: Expression + Clone + Send + Sync + 'static,
        diesel::dsl::Nullable<diesel::dsl::not<E>>:
            BoxableExpression<M::Table, MultiBackend, SqlType = Nullable<Bool>>,
    {
        self.filter(diesel::dsl::not(predicate))
    }

    /// Orders by `order` (a column, `column.desc()`, or a tuple of them),
    /// replacing the default or any earlier ordering.
    pub fn order_by<O>(mut self, order: O) -> Self
    where
        O: QueryFragment<MultiBackend> + Clone + Send + Sync + 'static,
        M::Query: ThenOrderDsl<O, Output = M::Query>,
    {
        self.ordering = Some(Vec::new());
        self.then_order_by(order)
    }

    /// Adds `order` after the current ordering (after the default one if
    /// none was chosen yet).
    pub fn then_order_by<O>(mut self, order: O) -> Self
    where
        O: QueryFragment<MultiBackend> + Clone + Send + Sync + 'static,
        M::Query: ThenOrderDsl<O, Output = M::Query>,
    {
        let term: OrderFn<M> = Arc::new(OrderBy(order));
        match &mut self.ordering {
            Some(terms) => terms.push(term),
            None => self.ordering = Some(vec![Arc::new(DefaultOrder), term]),
        }
        self
    }

    /// Drops every ordering, the default one included.
    pub fn unordered(mut self) -> Self {
        self.ordering = Some(Vec::new());
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = Some(n.max(0));
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: i64) -> Self {
        self.offset = Some(n.max(0));
        self
    }

    fn predicates(&self) -> Vec<Predicate<M>> {
        self.filters.iter().map(|f| f()).collect()
    }

    /// All filters ANDed into one predicate.
    fn predicate(&self) -> Option<Predicate<M>> {
        self.predicates()
            .into_iter()
            .reduce(|a, b| Box::new(a.and(b)))
    }

    fn filtered(&self) -> M::Query {
        self.predicates()
            .into_iter()
            .fold(M::__all(), |q, p| M::__filter(q, p))
    }

    fn ordered(&self, query: M::Query) -> M::Query {
        match &self.ordering {
            None => M::__order_default(query),
            Some(terms) => terms.iter().fold(query, |q, term| term.apply(q)),
        }
    }

    fn build(&self) -> M::Query {
        slice::<M>(self.ordered(self.filtered()), self.limit, self.offset)
    }

    /// The rows in this queryset's ordering (then by key with `by_key`,
    /// for stable chunks), sliced by `limit` and `offset`, with the
    /// `select_related` joins loaded; prefetching is the caller's.
    fn fetch(
        &self,
        conn: &mut AnyConnection,
        by_key: bool,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<Vec<M>> {
        if self.joins.is_empty() {
            let mut query = self.ordered(self.filtered());
            if by_key {
                query = M::__order_pk(query);
            }
            return M::__load(slice::<M>(query, limit, offset), conn);
        }
        let mut order: Vec<OrderFragment> = match &self.ordering {
            None => M::__default_ordering().into_iter().collect(),
            Some(terms) => terms
                .iter()
                .filter_map(|t| OrderClause::<M>::fragment(&**t))
                .collect(),
        };
        if by_key {
            let meta = M::meta();
            order.push(Box::new(KeyOrder(meta.table, meta.primary_key().name)));
        }
        let parts = SelectParts {
            predicate: self.predicate(),
            order,
            limit: sql_limit(limit, offset),
            offset,
        };
        self.joins.load(conn, parts, self.fetch_mode)
    }

    /// Runs the query and returns the rows.
    pub fn load(&self, conn: &mut AnyConnection) -> Result<Vec<M>> {
        let rows = self.fetch(conn, false, self.limit, self.offset)?;
        self.eager_load(conn, &rows)?;
        Ok(rows)
    }

    /// Streams the rows in chunks of `chunk_size` (one query per chunk),
    /// yielding them one by one. Each chunk is a peer group: touching a
    /// to-one relation inside the loop costs one query per chunk, not one
    /// per row. Rows are ordered (the queryset's ordering, then the key) so
    /// chunks neither skip nor repeat rows of a table that is not written
    /// meanwhile.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let mut names = Vec::new();
    /// for tag in Tag::objects().iter(&mut conn, 500) {
    ///     names.push(tag?.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn iter<'c>(&self, conn: &'c mut AnyConnection, chunk_size: usize) -> Rows<'c, M> {
        Rows {
            query: self.clone(),
            conn,
            chunk_size: i64::try_from(chunk_size).unwrap_or(i64::MAX).max(1),
            next_offset: self.offset.unwrap_or(0),
            remaining: self.limit,
            buffer: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The first row in this queryset's ordering (by primary key when it has
    /// none), or `None`.
    pub fn first(&self, conn: &mut AnyConnection) -> Result<Option<M>> {
        let by_key =
            M::meta().ordering.is_empty() && self.ordering.as_ref().is_none_or(Vec::is_empty);
        let rows = self.fetch(conn, by_key, Some(1), self.offset)?;
        self.eager_load(conn, &rows)?;
        Ok(rows.into_iter().next())
    }

    /// The one row this queryset matches. Errors with
    /// [`OrmError::NotFound`] or [`OrmError::MultipleFound`].
    pub fn get(&self, conn: &mut AnyConnection) -> Result<M> {
        let limit = Some(self.limit.map_or(2, |l| l.min(2)));
        let mut rows = self.fetch(conn, false, limit, self.offset)?;
        match rows.len() {
            0 => Err(OrmError::NotFound {
                model: M::meta().name,
            }),
            1 => {
                self.eager_load(conn, &rows)?;
                Ok(rows.remove(0))
            }
            n => Err(OrmError::MultipleFound {
                model: M::meta().name,
                count: n,
            }),
        }
    }

    /// How many rows match (`SELECT COUNT(*)`; limit and offset apply).
    pub fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        if self.limit.is_some() || self.offset.is_some() {
            // A sliced count counts the slice; no eager loading for it.
            return Ok(M::__load(self.build(), conn)?.len() as i64);
        }
        M::__count(self.filtered(), conn)
    }

    /// Whether any row matches (`SELECT EXISTS (...)`).
    pub fn exists(&self, conn: &mut AnyConnection) -> Result<bool> {
        if self.limit == Some(0) {
            return Ok(false);
        }
        M::__exists(slice::<M>(self.filtered(), self.limit, self.offset), conn)
    }

    /// Inserts all `rows` in one transaction, with as few statements as the
    /// backend's bind limit allows (one INSERT per chunk; on MySQL each
    /// chunk also reads `LAST_INSERT_ID()`), and fills in their
    /// auto-increment keys.
    pub fn bulk_create(&self, conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        conn.transaction(|conn| insert_chunked(conn, rows))
    }

    /// Deletes the matching rows in one statement and returns how many.
    /// A sliced queryset cannot be deleted.
    pub fn delete(&self, conn: &mut AnyConnection) -> Result<usize> {
        self.unsliced("delete")?;
        M::__delete_where(self.predicates(), conn)
    }

    /// Updates the matching rows in one statement and returns how many.
    /// `values` is a diesel changeset: `column.eq(value)` or a tuple of them.
    pub fn update<V>(&self, conn: &mut AnyConnection, values: V) -> Result<usize>
    where
        V: AsChangeset<Target = M::Table>,
        V::Changeset: QueryFragment<MultiBackend> + Send + 'static,
    {
        self.unsliced("update")?;
        M::__update_where(self.predicate(), BoxedChangeset::new(values), conn)
    }

    /// Keeps the rows whose `column` (a key or foreign-key column) is one
    /// of `keys`.
    pub(crate) fn filter_keys(mut self, column: &'static str, keys: Vec<Key>) -> Result<Self> {
        if M::__in_predicate(column, &keys).is_none() {
            return Err(crate::relations::unknown_column::<M>(column));
        }
        self.filters.push(Arc::new(move || {
            M::__in_predicate(column, &keys).unwrap_or_else(|| Box::new(never()))
        }));
        Ok(self)
    }

    /// Runs an UPDATE with a type-erased changeset on the matching rows.
    pub(crate) fn update_changeset(
        &self,
        conn: &mut AnyConnection,
        changeset: BoxedChangeset<M>,
    ) -> Result<usize> {
        self.unsliced("update")?;
        M::__update_where(self.predicate(), changeset, conn)
    }

    fn unsliced(&self, what: &str) -> Result<()> {
        if self.limit.is_some() || self.offset.is_some() {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: format!("cannot {what} a queryset with limit or offset; filter it instead"),
            });
        }
        Ok(())
    }
}

/// A type-erased changeset for `M`'s table, so generated code can run any
/// `update` without being generic over it.
pub struct BoxedChangeset<M: Model> {
    changeset: Box<dyn QueryFragment<MultiBackend> + Send>,
    model: std::marker::PhantomData<fn() -> M>,
}

impl<M: Model> BoxedChangeset<M> {
    /// Boxes a diesel changeset (`column.eq(value)` or a tuple of them).
    pub fn new<V>(values: V) -> Self
    where
        V: AsChangeset<Target = M::Table>,
        V::Changeset: QueryFragment<MultiBackend> + Send + 'static,
    {
        BoxedChangeset {
            changeset: Box::new(values.as_changeset()),
            model: std::marker::PhantomData,
        }
    }
}

impl<M: Model> AsChangeset for BoxedChangeset<M> {
    type Target = M::Table;
    type Changeset = Self;

    fn as_changeset(self) -> Self {
        self
    }
}

impl<M: Model> QueryId for BoxedChangeset<M> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<M: Model> QueryFragment<MultiBackend> for BoxedChangeset<M> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        self.changeset.walk_ast(pass)
    }
}

/// The rows of a queryset, streamed in chunks: see [`QuerySet::iter`].
pub struct Rows<'c, M: Model> {
    query: QuerySet<M>,
    conn: &'c mut AnyConnection,
    chunk_size: i64,
    next_offset: i64,
    remaining: Option<i64>,
    buffer: std::vec::IntoIter<M>,
    done: bool,
}

impl<M: Model> Rows<'_, M> {
    fn next_chunk(&mut self) -> Result<Vec<M>> {
        let size = self
            .remaining
            .map_or(self.chunk_size, |r| r.min(self.chunk_size));
        let rows = self
            .query
            .fetch(self.conn, true, Some(size), Some(self.next_offset))?;
        self.query.eager_load(self.conn, &rows)?;
        let n = rows.len() as i64;
        self.next_offset += n;
        self.remaining = self.remaining.map(|r| r - n);
        if n < size || self.remaining == Some(0) {
            self.done = true;
        }
        Ok(rows)
    }
}

impl<M: Model> Iterator for Rows<'_, M> {
    type Item = Result<M>;

    fn next(&mut self) -> Option<Result<M>> {
        loop {
            if let Some(row) = self.buffer.next() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            match self.next_chunk() {
                Ok(rows) => self.buffer = rows.into_iter(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
