//! A queryset's rows for a set of parents, its `limit`/`offset` applied
//! per parent (what a prefetch with a queryset loads).

use super::QuerySet;
use crate::backend::row::load;
use crate::backend::AnyConnection;
use crate::error::{OrmError, Result};
use crate::meta::Key;
use crate::model::Model;
use crate::sql::{Order, Ranked, RowNumber, Select};

impl<M: Model> QuerySet<M> {
    /// The rows whose `column` (the foreign key to the parents) is one of
    /// `keys` (one IN list: the caller chunks), in this queryset's
    /// ordering, with its filters; its `limit` and `offset` apply to each
    /// parent's rows (`ROW_NUMBER() OVER (PARTITION BY column ...)`).
    /// Prefetched and linked as peers as `load` does. One query (plus this
    /// queryset's own prefetches).
    pub(crate) fn load_per_parent(
        &self,
        conn: &mut AnyConnection,
        column: &'static str,
        keys: &[Key],
    ) -> Result<Vec<M>> {
        let query = self.clone().filter_keys(column, keys);
        if query.limit.is_none() && query.offset.is_none() {
            return query.load(conn);
        }
        let refuse = |what: &str| {
            OrmError::InvalidQuery {
            model: M::meta().name,
            reason: format!("a prefetch queryset sliced per parent cannot use {what}; prefetch_related on it instead, or drop the slice"),
        }
        };
        if query.joins.is_some() {
            return Err(refuse("select_related"));
        }
        if query.distinct.is_some() || query.lock.is_some() {
            return Err(refuse("distinct or select_for_update"));
        }
        query.check(conn)?;
        let meta = M::meta();
        let rank = RowNumber {
            root: meta,
            partition: column,
            order: query.order(),
        };
        let mut ranked = Select::new(meta, &[], &query.filters, Order::Terms(&[]));
        ranked.extra = Some(&rank);
        ranked.order_joins = &query.order_joins;
        let from = query.offset.unwrap_or(0);
        let statement = Ranked {
            ranked,
            from,
            to: query.limit.map(|limit| from.saturating_add(limit)),
        };
        let mut rows: Vec<M> = load(conn, statement)?;
        M::link_peers(rows.iter());
        query.eager_load(conn, &mut rows)?;
        Ok(rows)
    }

    /// Refuses `distinct_on` in a prefetch queryset: its groups would span
    /// every parent's rows, keeping one row per group of them all.
    pub(crate) fn per_parent_check(&self) -> Result<()> {
        if self.distinct_on_terms().is_none() {
            return Ok(());
        }
        Err(OrmError::InvalidQuery {
            model: M::meta().name,
            reason: "a prefetch queryset cannot use distinct_on: its groups would span the rows of every parent; filter the rows instead".into(),
        })
    }

    /// The `offset` and `limit` (per parent, in a prefetch), and the
    /// queryset without them.
    pub(crate) fn take_slice(mut self) -> (Self, i64, Option<i64>) {
        let (offset, limit) = (self.offset.take(), self.limit.take());
        (self, offset.unwrap_or(0), limit)
    }
}
