//! Querysets: lazy, cloneable descriptions of a query on one model, and
//! the terminal calls that run them.

use std::fmt;
use std::sync::Arc;

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;
use diesel::sql_types::BoolOrNullableBool;

use crate::backend::row::{load, load_into, read, Collect, RawRow};
use crate::backend::{AnyConnection, BackendKind, MultiBackend};
use crate::error::{OrmError, Result};
use crate::meta::{FetchMode, Key};
use crate::model::{inherit_fetch_mode, Model};
use crate::sql::{
    self, Count, Distinct, Exists, Fragment, Join, Order, OrderJoin, RowLock, Select,
};

mod distinct;
mod keyset;
mod locking;
mod order;
mod rows;
mod shortcuts;
mod values;
mod window;
mod write;

pub use rows::Rows;
pub use values::Values;

/// Loads what a queryset prefetches for the rows it loaded (a
/// `prefetch_related` path).
pub(crate) trait EagerLoad<M>: Send + Sync {
    fn load(&self, conn: &mut AnyConnection, rows: &[&M]) -> Result<()>;
}

/// Stores what a prefetch with a queryset loaded into the rows it loaded
/// (`prefetch_into`: a field of the user's choice).
pub(crate) trait AttrLoad<M>: Send + Sync {
    fn load(&self, conn: &mut AnyConnection, rows: &mut [M]) -> Result<()>;
}

/// Loads a queryset's rows with their `select_related` joins.
pub(crate) trait JoinLoad<M>: Send + Sync + fmt::Debug {
    fn load(
        &self,
        conn: &mut AnyConnection,
        parts: SelectParts<'_>,
        mode: Option<FetchMode>,
    ) -> Result<Vec<M>>;
    fn as_any(&self) -> &dyn std::any::Any;
}

/// What a joined select takes from the queryset.
pub(crate) struct SelectParts<'a> {
    pub(crate) filters: &'a [Fragment],
    pub(crate) order: Order<'a>,
    pub(crate) by_key: bool,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: Option<i64>,
    pub(crate) lock: Option<(RowLock, BackendKind)>,
    pub(crate) after: Option<&'a (dyn QueryFragment<MultiBackend> + Send + Sync)>,
    pub(crate) distinct: Distinct<'a>,
    pub(crate) order_joins: &'a [OrderJoin],
}

impl<'a> SelectParts<'a> {
    /// The select of `root` with `joins`.
    pub(crate) fn select(
        &self,
        root: &'static crate::meta::ModelMeta,
        joins: &'a [Join],
    ) -> Select<'a> {
        let mut select =
            Select::new(root, joins, self.filters, self.order).sliced(self.limit, self.offset);
        select.by_key = self.by_key;
        select.lock = self.lock;
        select.after = self.after;
        select.distinct = self.distinct;
        select.order_joins = self.order_joins;
        select
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
    filters: Vec<Fragment>,
    /// `None`: the model's default ordering.
    ordering: Option<Vec<Fragment>>,
    /// How many of `ordering`'s first terms are the default ordering's
    /// (`then_order_by` adds after them): left out under `distinct()`.
    default_terms: usize,
    limit: Option<i64>,
    offset: Option<i64>,
    pub(crate) eager: Vec<Arc<dyn EagerLoad<M>>>,
    pub(crate) into: Vec<Arc<dyn AttrLoad<M>>>,
    pub(crate) joins: Option<Arc<dyn JoinLoad<M>>>,
    fetch_mode: Option<FetchMode>,
    lock: Option<RowLock>,
    /// `Some([])`: `DISTINCT`; `Some(terms)`: `DISTINCT ON (terms)`.
    distinct: Option<Vec<Fragment>>,
    /// The to-one relations the ordering reaches (`order_by_related`).
    order_joins: Vec<OrderJoin>,
    /// Why the queryset cannot run, found while building it.
    invalid: Option<String>,
    /// Why its ordering cannot run (`unordered` and `order_by` drop it).
    invalid_order: Option<String>,
}

impl<M: Model> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            filters: self.filters.clone(),
            ordering: self.ordering.clone(),
            default_terms: self.default_terms,
            limit: self.limit,
            offset: self.offset,
            eager: self.eager.clone(),
            into: self.into.clone(),
            joins: self.joins.clone(),
            fetch_mode: self.fetch_mode,
            lock: self.lock,
            distinct: self.distinct.clone(),
            order_joins: self.order_joins.clone(),
            invalid: self.invalid.clone(),
            invalid_order: self.invalid_order.clone(),
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
            default_terms: 0,
            limit: None,
            offset: None,
            eager: Vec::new(),
            into: Vec::new(),
            joins: None,
            fetch_mode: None,
            lock: None,
            distinct: None,
            order_joins: Vec::new(),
            invalid: None,
            invalid_order: None,
        }
    }

    /// The fetch mode of the instances this queryset loads (and of what
    /// is loaded through them); see [`fetch`](crate::fetch).
    pub fn fetch_mode(mut self, mode: FetchMode) -> Self {
        self.fetch_mode = Some(mode);
        self
    }

    /// Sets the fetch mode unless the queryset chose one (what a manager's
    /// queryset inherits from its owner).
    pub(crate) fn inherit_fetch_mode(mut self, mode: Option<FetchMode>) -> Self {
        self.fetch_mode = self.fetch_mode.or(mode);
        self
    }

    /// Keeps the rows for which `predicate` (a diesel boolean expression on
    /// `M`'s table) is true. Filters combine with AND.
    pub fn filter<E>(mut self, predicate: E) -> Self
    where
        E: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        self.filters.push(sql::predicate(predicate));
        self
    }

    /// Drops the rows for which `predicate` is true (SQL `NOT (...)`).
    pub fn exclude<E>(self, predicate: E) -> Self
    where
        E: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
        diesel::dsl::not<E>: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        <diesel::dsl::not<E> as Expression>::SqlType: BoolOrNullableBool,
    {
        self.filter(diesel::dsl::not(predicate))
    }

    /// Marks the queryset as one that cannot run, for `reason` (the
    /// first one found is reported, as `OrmError::InvalidQuery`).
    pub(crate) fn refused(mut self, reason: String) -> Self {
        self.invalid.get_or_insert(reason);
        self
    }

    /// Refuses, before sending anything, what cannot run: a problem found
    /// while building, `DISTINCT ON` off PostgreSQL.
    fn check(&self, conn: &AnyConnection) -> Result<()> {
        self.check_unordered(conn)?;
        match &self.invalid_order {
            Some(reason) => Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// [`check`](Self::check) for a statement that leaves the ordering
    /// out (`count`, `exists`).
    fn check_unordered(&self, conn: &AnyConnection) -> Result<()> {
        if let Some(reason) = &self.invalid {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: reason.clone(),
            });
        }
        self.check_distinct(conn)
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

    /// The rows in this queryset's ordering (then by key with `by_key`,
    /// for stable chunks), sliced by `limit` and `offset`, and after a
    /// streamed chunk's last row when `after` is given, with the
    /// `select_related` joins loaded and peers linked; prefetching is the
    /// caller's.
    fn fetch(
        &self,
        conn: &mut AnyConnection,
        by_key: bool,
        limit: Option<i64>,
        offset: Option<i64>,
        after: Option<&(dyn QueryFragment<MultiBackend> + Send + Sync)>,
    ) -> Result<Vec<M>> {
        let parts = self.parts(conn, by_key, limit, offset, after)?;
        if let Some(joins) = &self.joins {
            return joins.load(conn, parts, self.fetch_mode);
        }
        let rows: Vec<M> = load(conn, parts.select(M::meta(), &[]))?;
        M::link_peers(rows.iter());
        Ok(rows)
    }

    /// The rows of a queryset with no joins and nothing to prefetch, each
    /// decoded into an `Arc` of its own, peers linked (to-one targets a
    /// batch load shares among the instances pointing at them, and
    /// many-to-many targets shared among their owners). Only for
    /// querysets orm-core builds itself: joins, `prefetch_related` and
    /// `prefetch_into` are not run here.
    pub(crate) fn load_shared(&self, conn: &mut AnyConnection) -> Result<Vec<Arc<M>>> {
        debug_assert!(self.joins.is_none() && self.eager.is_empty() && self.into.is_empty());
        let parts = self.parts(conn, false, self.limit, self.offset, None)?;
        let rows: Vec<Arc<M>> = load(conn, parts.select(M::meta(), &[]))?;
        M::link_peers(rows.iter().map(|row| &**row));
        if self.fetch_mode.is_some() {
            rows.iter()
                .for_each(|row| inherit_fetch_mode(&**row, self.fetch_mode));
        }
        Ok(rows)
    }

    /// What a select of this queryset takes from it (row locks checked
    /// against the backend, the queryset validated).
    fn parts<'a>(
        &'a self,
        conn: &mut AnyConnection,
        by_key: bool,
        limit: Option<i64>,
        offset: Option<i64>,
        after: Option<&'a (dyn QueryFragment<MultiBackend> + Send + Sync)>,
    ) -> Result<SelectParts<'a>> {
        let distinct = self.row_distinct();
        let lock = self.row_lock(conn, &distinct)?;
        self.check(conn)?;
        Ok(SelectParts {
            filters: &self.filters,
            order: self.order(),
            by_key,
            limit,
            offset,
            lock,
            after,
            distinct,
            order_joins: &self.order_joins,
        })
    }

    fn eager_load(&self, conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
        if self.fetch_mode.is_some() {
            rows.iter()
                .for_each(|r| inherit_fetch_mode(r, self.fetch_mode));
        }
        if rows.is_empty() {
            return Ok(());
        }
        if !self.eager.is_empty() {
            let refs: Vec<&M> = rows.iter().collect();
            self.eager
                .iter()
                .try_for_each(|path| path.load(conn, &refs))?;
        }
        self.into.iter().try_for_each(|into| into.load(conn, rows))
    }

    /// Runs the query and returns the rows.
    pub fn load(&self, conn: &mut AnyConnection) -> Result<Vec<M>> {
        let mut rows = self.fetch(conn, false, self.limit, self.offset, None)?;
        self.eager_load(conn, &mut rows)?;
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
        Rows::new(self.clone(), conn, chunk_size, self.offset, self.limit)
    }

    /// One chunk of a stream: `size` rows from `offset`, or after the
    /// previous chunk's last row (`after`), ordered by key last,
    /// prefetched.
    pub(crate) fn chunk(
        &self,
        conn: &mut AnyConnection,
        size: i64,
        offset: i64,
        after: Option<&(dyn QueryFragment<MultiBackend> + Send + Sync)>,
    ) -> Result<Vec<M>> {
        let offset = (offset > 0).then_some(offset);
        let mut rows = self.fetch(conn, true, Some(size), offset, after)?;
        self.eager_load(conn, &mut rows)?;
        Ok(rows)
    }

    /// The first row in this queryset's ordering (by primary key when it has
    /// none, or after `unordered`, as `last`), or `None`; of its slice
    /// when it has one.
    pub fn first(&self, conn: &mut AnyConnection) -> Result<Option<M>> {
        let by_key = match &self.ordering {
            None => M::meta().ordering.is_empty(),
            Some(terms) => terms.is_empty(),
        };
        let limit = Some(self.limit.map_or(1, |l| l.min(1)));
        let mut rows = self.fetch(conn, by_key, limit, self.offset, None)?;
        self.eager_load(conn, &mut rows)?;
        Ok(rows.into_iter().next())
    }

    /// The one row this queryset matches. Errors with
    /// [`OrmError::NotFound`] or [`OrmError::MultipleFound`].
    pub fn get(&self, conn: &mut AnyConnection) -> Result<M> {
        let limit = Some(self.limit.map_or(2, |l| l.min(2)));
        let mut rows = self.fetch(conn, false, limit, self.offset, None)?;
        match rows.len() {
            0 => Err(OrmError::NotFound {
                model: M::meta().name,
            }),
            1 => {
                self.eager_load(conn, &mut rows)?;
                Ok(rows.remove(0))
            }
            n => Err(OrmError::MultipleFound {
                model: M::meta().name,
                count: n,
            }),
        }
    }

    /// How many rows match: one `SELECT COUNT(*)` (over a subquery when
    /// the queryset is sliced, so limit and offset apply).
    pub fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        self.check_unordered(conn)?;
        let mut select = Select::new(M::meta(), &[], &self.filters, Order::Terms(&[]))
            .sliced(self.limit, self.offset);
        select.distinct = self.row_distinct();
        let counts = Collect::new(|row: &dyn RawRow| {
            read::<diesel::sql_types::BigInt, i64, _>(row, 0).map(Some)
        });
        Ok(load_into(conn, Count(select), counts)?
            .rows
            .pop()
            .unwrap_or(0))
    }

    /// Whether any row matches (`SELECT 1 … LIMIT 1`; with `distinct_on`
    /// and an offset, whether `count` is above zero).
    pub fn exists(&self, conn: &mut AnyConnection) -> Result<bool> {
        self.check_unordered(conn)?;
        if self.limit == Some(0) {
            return Ok(false);
        }
        if self.distinct_on_terms().is_some() && self.offset.is_some() {
            // The offset skips distinct rows, which `SELECT 1` does not see.
            return Ok(self.count(conn)? > 0);
        }
        let select = Select::new(M::meta(), &[], &self.filters, Order::Terms(&[]))
            .sliced(Some(1), self.offset);
        let found = Collect::new(|_: &dyn RawRow| Ok(Some(())));
        Ok(!load_into(conn, Exists(select), found)?.rows.is_empty())
    }

    /// Keeps the rows whose primary key is one of `keys` (bind them in
    /// chunks below the backend's limit: see `BackendKind::max_in_list`).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// let some = Tag::objects().filter_pks(&[1, 2, 3]);
    /// # let _ = some;
    /// ```
    pub fn filter_pks(self, keys: &[M::Key]) -> Self {
        let keys: Vec<Key> = keys.iter().map(crate::meta::KeyType::to_key).collect();
        self.filter_keys(M::meta().primary_key().name, &keys)
    }

    /// Keeps the rows whose `column` (a key or foreign-key column of `M`)
    /// is one of `keys`.
    pub(crate) fn filter_keys(mut self, column: &'static str, keys: &[Key]) -> Self {
        self.filters
            .push(sql::key_in(M::meta().table, column, keys));
        self
    }

    /// Adds a rendered filter (the layers above build some).
    pub(crate) fn with_filter(mut self, filter: Fragment) -> Self {
        self.filters.push(filter);
        self
    }

    /// Drops the rows whose `column` is one of `keys` (one list: keep it
    /// below the backend's bind limit).
    pub(crate) fn exclude_keys(mut self, column: &'static str, keys: &[Key]) -> Self {
        self.filters
            .push(sql::key_not_in(M::meta().table, column, keys));
        self
    }
}
