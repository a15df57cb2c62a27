//! A queryset's ordering: `order_by`, `then_order_by`, `unordered`, the
//! model's default ordering as terms, and orderings across a relation's
//! join (`order_by_related` builds them in the loading layer).

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::QuerySet;
use crate::backend::MultiBackend;
use crate::meta::OrderTerm;
use crate::model::Model;
use crate::sql::{self, Fragment, Order, OrderJoin};

/// One term of the model's default ordering, as a fragment (when more
/// terms follow it).
struct DefaultTerm {
    table: &'static str,
    term: OrderTerm,
    nullable: bool,
}

impl<DB: Backend> QueryFragment<DB> for DefaultTerm {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.nullable {
            sql::push_column(&mut out, self.table, self.term.column)?;
            out.push_sql(if self.term.descending {
                " IS NULL ASC, "
            } else {
                " IS NULL DESC, "
            });
        }
        sql::push_column(&mut out, self.table, self.term.column)?;
        out.push_sql(if self.term.descending {
            " DESC"
        } else {
            " ASC"
        });
        Ok(())
    }
}

impl<M: Model> QuerySet<M> {
    /// Orders by `order` (a column, `column.desc()`, or a tuple of them),
    /// replacing the default or any earlier ordering.
    pub fn order_by<O>(self, order: O) -> Self
    where
        O: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.unordered().then_order_by(order)
    }

    /// Adds `order` after the current ordering (after the default one if
    /// none was chosen yet).
    pub fn then_order_by<O>(self, order: O) -> Self
    where
        O: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.after_ordering(Fragment::user(order))
    }

    /// Adds `term` after the current ordering (after the default one if
    /// none was chosen yet).
    fn after_ordering(mut self, term: Fragment) -> Self {
        if self.ordering.is_none() {
            let defaults = default_terms::<M>();
            self.default_terms = defaults.len();
            self.ordering = Some(defaults);
        }
        self.ordering.get_or_insert_with(Vec::new).push(term);
        self
    }

    /// Drops every ordering, the default one included.
    pub fn unordered(mut self) -> Self {
        self.ordering = Some(Vec::new());
        self.default_terms = 0;
        self.order_joins.clear();
        self.invalid_order = None;
        self
    }

    /// Adds `term`, an ordering on the table of a to-one relation joined
    /// by `join`, after the current ordering; refuses (when run) a join
    /// to the model's own table or a second relation to one table: the
    /// expression names the table, which would be ambiguous.
    pub(crate) fn then_order_joined(mut self, join: OrderJoin, term: Fragment) -> Self {
        let model = M::meta();
        if join.table == model.table {
            self.invalid_order.get_or_insert_with(|| format!(
                "cannot order {} across a relation to its own table `{}`: order by the key column (`order_by`) or sort in Rust",
                model.name, join.table
            ));
        } else if let Some(other) = self.order_joins.iter().find(|j| j.table == join.table) {
            if *other != join {
                self.invalid_order.get_or_insert_with(|| format!(
                    "cannot order {} across two relations to the table `{}` (`{}` and `{}`): order across one of them",
                    model.name, join.table, other.parent_column, join.parent_column
                ));
            }
        } else {
            self.order_joins.push(join);
        }
        self.after_ordering(term)
    }

    pub(super) fn order(&self) -> Order<'_> {
        match &self.ordering {
            None => Order::Default,
            Some(terms) => Order::Terms(terms),
        }
    }
}

/// The model's default ordering as separate terms, to append more to.
fn default_terms<M: Model>() -> Vec<Fragment> {
    order_terms::<M>(M::meta().ordering, false)
}

/// `terms` of `M`'s table as fragments, each reversed if asked (`last`).
pub(super) fn order_terms<M: Model>(terms: &[OrderTerm], reversed: bool) -> Vec<Fragment> {
    let meta = M::meta();
    terms
        .iter()
        .map(|term| {
            let nullable = meta.column(term.column).is_some_and(|c| c.nullable);
            Fragment::own(DefaultTerm {
                table: meta.table,
                term: OrderTerm {
                    column: term.column,
                    descending: term.descending != reversed,
                },
                nullable,
            })
        })
        .collect()
}
