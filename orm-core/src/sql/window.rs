//! Per-parent slices (a prefetch with `limit`/`offset`): each row ranked
//! within its parent by `ROW_NUMBER() OVER (PARTITION BY fk ORDER BY …)`,
//! then the ranks of the slice kept, as Django 4.2 does. SQLite ≥ 3.25,
//! MariaDB ≥ 10.2 and PostgreSQL have window functions.

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::select::{Order, Select};
use super::{push_column, push_default_order};
use crate::backend::{untyped_query, Dialect};
use crate::meta::ModelMeta;

/// The rank column's name.
const RANK: &str = "__orm_rn";
/// The ranked subquery's alias.
const RANKED: &str = "__orm_w";

/// `ROW_NUMBER() OVER (PARTITION BY root.partition ORDER BY <order>,
/// root.key) AS __orm_rn`: a value selected after the model's columns.
pub(crate) struct RowNumber<'a> {
    pub(crate) root: &'static ModelMeta,
    pub(crate) partition: &'static str,
    pub(crate) order: Order<'a>,
}

impl<DB: Dialect> QueryFragment<DB> for RowNumber<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let root = self.root;
        out.push_sql("ROW_NUMBER() OVER (PARTITION BY ");
        push_column(&mut out, root.table, self.partition)?;
        let mut first = true;
        match self.order {
            Order::Default => push_default_order(
                &mut out,
                root.table,
                root.columns,
                root.ordering,
                &mut first,
            )?,
            Order::Terms(terms) => {
                for term in terms {
                    out.push_sql(if first { " ORDER BY " } else { ", " });
                    first = false;
                    term.walk_ast(out.reborrow())?;
                }
            }
        }
        // Then by key: ranks are deterministic.
        out.push_sql(if first { " ORDER BY " } else { ", " });
        push_column(&mut out, root.table, root.primary_key().name)?;
        out.push_sql(" ASC) AS ");
        out.push_identifier(RANK)
    }
}

/// `SELECT * FROM (<ranked>) AS __orm_w WHERE __orm_rn > from [AND
/// __orm_rn <= to] ORDER BY __orm_rn`: the rows ranked `from + 1 ..= to`
/// within their parent. `ranked` selects the model's columns first, so
/// rows decode by position; the rank after them is not read.
pub(crate) struct Ranked<'a> {
    pub(crate) ranked: Select<'a>,
    pub(crate) from: i64,
    pub(crate) to: Option<i64>,
}

impl<DB: Dialect> QueryFragment<DB> for Ranked<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT * FROM (");
        self.ranked.walk_ast(out.reborrow())?;
        out.push_sql(") AS ");
        out.push_identifier(RANKED)?;
        out.push_sql(" WHERE ");
        push_column(&mut out, RANKED, RANK)?;
        out.push_sql(" > ");
        DB::bind_int(&mut out, &self.from)?;
        if let Some(to) = &self.to {
            out.push_sql(" AND ");
            push_column(&mut out, RANKED, RANK)?;
            out.push_sql(" <= ");
            DB::bind_int(&mut out, to)?;
        }
        out.push_sql(" ORDER BY ");
        push_column(&mut out, RANKED, RANK)
    }
}

// Typed when its select is (the window's ordering is the select's).
untyped_query!(impl['a] Ranked<'a>; typed by |q| q.ranked.typed());
