//! `SELECT` with joins, and the `COUNT` / `EXISTS` forms of one.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::{all_portable, push_column, push_default_order, push_where, Fragment};
use crate::backend::{untyped_query, BackendKind, Dialect, MultiBackend};
use crate::meta::{ColumnMeta, ModelMeta};

/// `LEFT OUTER JOIN table AS alias ON alias.on = parent.parent_column`,
/// selecting the joined table's `columns` after the ones before it.
pub(crate) struct Join {
    pub(crate) table: &'static str,
    pub(crate) alias: String,
    /// The joined column, in this table.
    pub(crate) on: &'static str,
    /// The root table or the alias of the join this one hangs from.
    pub(crate) parent: String,
    /// The column it matches, in the parent.
    pub(crate) parent_column: &'static str,
    pub(crate) columns: &'static [ColumnMeta],
}

/// `LEFT OUTER JOIN table ON table.on = root.parent_column`: a to-one
/// relation joined under its own table name (not selected), so an
/// ordering expression on that table (`author::name.asc()`) applies. At
/// most one row per root row: no duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderJoin {
    pub(crate) table: &'static str,
    pub(crate) on: &'static str,
    pub(crate) parent_column: &'static str,
}

/// The `ORDER BY` of a select.
#[derive(Clone, Copy)]
pub(crate) enum Order<'a> {
    /// The root model's default ordering.
    Default,
    /// Terms the queryset chose (none: unordered).
    Terms(&'a [Fragment]),
}

/// Whether a select keeps only distinct rows.
#[derive(Clone, Copy, Default)]
pub(crate) enum Distinct<'a> {
    /// Every row.
    #[default]
    No,
    /// `SELECT DISTINCT`.
    All,
    /// PostgreSQL's `SELECT DISTINCT ON (terms)`: the first row of each
    /// group of equal `terms`; the terms also lead the `ORDER BY`.
    On(&'a [Fragment]),
}

impl Distinct<'_> {
    /// ` DISTINCT` or ` DISTINCT ON (…)`, after `SELECT`.
    fn walk<'b, DB: Dialect>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        match self {
            Distinct::No => {}
            Distinct::All => out.push_sql("DISTINCT "),
            Distinct::On(terms) => {
                out.push_sql("DISTINCT ON (");
                push_list(out, terms)?;
                out.push_sql(") ");
            }
        }
        Ok(())
    }
}

/// `a, b, …`.
fn push_list<'b, DB: Dialect>(
    out: &mut AstPass<'_, 'b, DB>,
    terms: &'b [Fragment],
) -> QueryResult<()> {
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        term.walk_ast(out.reborrow())?;
    }
    Ok(())
}

/// How `select_for_update` locks the rows it reads.
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
/// let locked = Tag::objects().filter(tag::name.eq("rust")).select_for_update(RowLock::SkipLocked);
/// # let _ = locked;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLock {
    /// Wait for rows another transaction locked (`FOR UPDATE`).
    Wait,
    /// Fail at once on a row another transaction locked (`FOR UPDATE NOWAIT`).
    NoWait,
    /// Leave out the rows another transaction locked (`FOR UPDATE SKIP LOCKED`).
    SkipLocked,
}

/// `SELECT root.*, joined.* FROM root LEFT OUTER JOIN … WHERE … ORDER BY …
/// LIMIT … OFFSET …`, every column named, in table order.
pub(crate) struct Select<'a> {
    pub(crate) root: &'static ModelMeta,
    pub(crate) joins: &'a [Join],
    pub(crate) filters: &'a [Fragment],
    pub(crate) order: Order<'a>,
    /// Then by the root's key (a stable order for chunked reads).
    pub(crate) by_key: bool,
    /// Set with [`sliced`](Self::sliced).
    limit: Option<i64>,
    offset: Option<i64>,
    /// `FOR UPDATE …` of the root's rows, on a backend that has it.
    pub(crate) lock: Option<(RowLock, BackendKind)>,
    /// One more filter, borrowed: the rows after a streamed chunk's last.
    pub(crate) after: Option<&'a (dyn QueryFragment<MultiBackend> + Send + Sync)>,
    /// One more selected value after the columns (an annotation).
    pub(crate) extra: Option<&'a (dyn QueryFragment<MultiBackend> + Send + Sync)>,
    /// `DISTINCT` / `DISTINCT ON`.
    pub(crate) distinct: Distinct<'a>,
    /// The relations the ordering reaches.
    pub(crate) order_joins: &'a [OrderJoin],
}

impl<'a> Select<'a> {
    /// All rows of `root` with `filters`, in `order`, not sliced.
    pub(crate) fn new(
        root: &'static ModelMeta,
        joins: &'a [Join],
        filters: &'a [Fragment],
        order: Order<'a>,
    ) -> Self {
        Select {
            root,
            joins,
            filters,
            order,
            by_key: false,
            limit: None,
            offset: None,
            lock: None,
            after: None,
            extra: None,
            distinct: Distinct::No,
            order_joins: &[],
        }
    }

    /// ` FROM … WHERE … ORDER BY … LIMIT … OFFSET …`.
    fn walk_from<'b, DB: Dialect>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let root = self.root;
        out.push_sql(" FROM ");
        out.push_identifier(root.table)?;
        for join in self.joins {
            out.push_sql(" LEFT OUTER JOIN ");
            out.push_identifier(join.table)?;
            out.push_sql(" AS ");
            out.push_identifier(&join.alias)?;
            out.push_sql(" ON ");
            push_column(out, &join.alias, join.on)?;
            out.push_sql(" = ");
            push_column(out, &join.parent, join.parent_column)?;
        }
        for join in self.order_joins {
            out.push_sql(" LEFT OUTER JOIN ");
            out.push_identifier(join.table)?;
            out.push_sql(" ON ");
            push_column(out, join.table, join.on)?;
            out.push_sql(" = ");
            push_column(out, root.table, join.parent_column)?;
        }
        push_where(out, self.filters)?;
        if let Some(after) = self.after {
            out.push_sql(if self.filters.is_empty() {
                " WHERE ("
            } else {
                " AND ("
            });
            DB::walk_multi(after, out.reborrow())?;
            out.push_sql(")");
        }
        let mut first = true;
        if let Distinct::On(terms) = self.distinct {
            if !terms.is_empty() {
                out.push_sql(" ORDER BY ");
                push_list(out, terms)?;
                first = false;
            }
        }
        match self.order {
            Order::Default => {
                push_default_order(out, root.table, root.columns, root.ordering, &mut first)?
            }
            Order::Terms(terms) => {
                for term in terms {
                    out.push_sql(if first { " ORDER BY " } else { ", " });
                    first = false;
                    term.walk_ast(out.reborrow())?;
                }
            }
        }
        if self.by_key {
            out.push_sql(if first { " ORDER BY " } else { ", " });
            push_column(out, root.table, root.primary_key().name)?;
            out.push_sql(" ASC");
        }
        if let Some(limit) = &self.limit {
            out.push_sql(" LIMIT ");
            DB::bind_int(out, limit)?;
        }
        if let Some(offset) = &self.offset {
            out.push_sql(" OFFSET ");
            DB::bind_int(out, offset)?;
        }
        if let Some((lock, backend)) = self.lock {
            push_lock(out, lock, backend, root.table)?;
        }
        Ok(())
    }

    /// Whether it renders for each backend: no user expression in it.
    pub(crate) fn typed(&self) -> bool {
        let order = match self.order {
            Order::Default => true,
            Order::Terms(terms) => all_portable(terms),
        };
        let distinct = match self.distinct {
            Distinct::On(terms) => all_portable(terms),
            Distinct::No | Distinct::All => true,
        };
        order
            && distinct
            && all_portable(self.filters)
            && self.after.is_none()
            && self.extra.is_none()
    }

    /// Slices the rows. SQLite and MySQL refuse OFFSET without LIMIT: an
    /// offset alone comes with the largest limit.
    pub(crate) fn sliced(mut self, limit: Option<i64>, offset: Option<i64>) -> Self {
        self.limit = limit.or(offset.map(|_| i64::MAX));
        self.offset = offset;
        self
    }
}

/// ` FOR UPDATE [OF root] [NOWAIT | SKIP LOCKED]`; nothing on SQLite,
/// which locks the whole database for a write transaction instead.
/// PostgreSQL locks the root's rows only (`OF`): it refuses to lock the
/// nullable side of the outer joins of `select_related`.
fn push_lock<DB: Backend>(
    out: &mut AstPass<'_, '_, DB>,
    lock: RowLock,
    backend: BackendKind,
    root: &str,
) -> QueryResult<()> {
    if backend == BackendKind::Sqlite {
        return Ok(());
    }
    out.push_sql(" FOR UPDATE");
    if backend == BackendKind::Postgres {
        out.push_sql(" OF ");
        out.push_identifier(root)?;
    }
    out.push_sql(match lock {
        RowLock::Wait => "",
        RowLock::NoWait => " NOWAIT",
        RowLock::SkipLocked => " SKIP LOCKED",
    });
    Ok(())
}

impl<DB: Dialect> QueryFragment<DB> for Select<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.distinct.walk(&mut out)?;
        let root = self.root.columns.iter().map(|c| (self.root.table, c));
        let joined = self
            .joins
            .iter()
            .flat_map(|j| j.columns.iter().map(move |c| (j.alias.as_str(), c)));
        for (i, (table, column)) in root.chain(joined).enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            push_column(&mut out, table, column.name)?;
        }
        if let Some(extra) = self.extra {
            out.push_sql(", ");
            DB::walk_multi(extra, out.reborrow())?;
        }
        self.walk_from(&mut out)
    }
}

untyped_query!(impl['a] Select<'a>; typed by Select::typed);

/// `SELECT COUNT(*)` of a select's rows; a sliced select, or one with
/// `DISTINCT ON`, is counted as a subquery, so the slice and the
/// distinct groups apply. (A plain `DISTINCT` of model rows, which hold
/// their key, changes nothing to count.)
pub(crate) struct Count<'a>(pub(crate) Select<'a>);

impl<DB: Dialect> QueryFragment<DB> for Count<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let on = matches!(self.0.distinct, Distinct::On(_));
        if self.0.limit.is_none() && self.0.offset.is_none() && !on {
            out.push_sql("SELECT COUNT(*)");
            return self.0.walk_from(&mut out);
        }
        out.push_sql("SELECT COUNT(*) FROM (SELECT ");
        if on {
            self.0.distinct.walk(&mut out)?;
        }
        out.push_sql("1 AS ");
        out.push_identifier("one")?;
        self.0.walk_from(&mut out)?;
        out.push_sql(") AS ");
        out.push_identifier("__orm_sliced")
    }
}

untyped_query!(impl['a] Count<'a>; typed by |q| q.0.typed());

/// `SELECT root.key …`: the keys of a select's rows, in its order.
pub(crate) struct Keys<'a>(pub(crate) Select<'a>);

impl<DB: Dialect> QueryFragment<DB> for Keys<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        push_column(&mut out, self.0.root.table, self.0.root.primary_key().name)?;
        self.0.walk_from(&mut out)
    }
}

untyped_query!(impl['a] Keys<'a>; typed by |q| q.0.typed());

/// `SELECT 1 … LIMIT 1`: whether a select has any row.
pub(crate) struct Exists<'a>(pub(crate) Select<'a>);

impl<DB: Dialect> QueryFragment<DB> for Exists<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT 1");
        self.0.walk_from(&mut out)
    }
}

untyped_query!(impl['a] Exists<'a>; typed by |q| q.0.typed());

/// `SELECT <list> …`: chosen expressions (`values_list`, aggregates)
/// instead of the model's columns.
pub(crate) struct Expressions<'a> {
    pub(crate) list: &'a (dyn QueryFragment<MultiBackend> + Send + Sync),
    pub(crate) select: Select<'a>,
}

impl<DB: Dialect> QueryFragment<DB> for Expressions<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.select.distinct.walk(&mut out)?;
        DB::walk_multi(self.list, out.reborrow())?;
        self.select.walk_from(&mut out)
    }
}

// Never typed: the list is a user's diesel expression.
untyped_query!(impl['a] Expressions<'a>; typed by |_| false);
