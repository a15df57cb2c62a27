//! Keyset pagination for streaming: each chunk after the first starts
//! after the previous chunk's last row (`WHERE (a, key) > (…)`, spelled
//! out per direction), so the database skips nothing it already sent.

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::QuerySet;
use crate::backend::MultiBackend;
use crate::model::Model;

/// One term of a keyset ordering: a column position and its direction.
pub(super) type Term = (usize, bool);

impl<M: Model> QuerySet<M> {
    /// The stream's ordering as columns, the key last, when chunks can
    /// continue from a row: the model's default ordering on columns that
    /// are never NULL (or none), then the key. `None` (chunks by OFFSET)
    /// for an `order_by`, whose expressions are opaque, and for a
    /// nullable ordering column.
    pub(super) fn keyset(&self) -> Option<Vec<Term>> {
        let meta = M::meta();
        let default = match &self.ordering {
            None => meta.ordering,
            Some(terms) if terms.is_empty() => &[],
            Some(_) => return None,
        };
        if self.distinct_on_terms().is_some() {
            // `DISTINCT ON` terms lead the ordering.
            return None;
        }
        let key = meta.columns.iter().position(|c| c.primary_key)?;
        let mut terms: Vec<Term> = Vec::with_capacity(default.len() + 1);
        for term in default {
            let position = meta.columns.iter().position(|c| c.name == term.column)?;
            if meta.columns[position].nullable {
                return None;
            }
            if terms.iter().all(|(p, _)| *p != position) {
                terms.push((position, term.descending));
            }
        }
        if terms.iter().all(|(p, _)| *p != key) {
            terms.push((key, false));
        }
        Some(terms)
    }
}

/// The rows after `row` in the ordering `terms`: `a > va OR (a = va AND
/// (b < vb OR (b = vb AND key > vkey)))`.
pub(super) struct After<'r, M> {
    pub(super) row: &'r M,
    pub(super) terms: &'r [Term],
}

impl<M: Model> After<'_, M> {
    fn walk<'b>(
        &'b self,
        terms: &'b [Term],
        out: &mut AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        let Some(((position, descending), rest)) = terms.split_first() else {
            return Ok(());
        };
        let meta = M::meta();
        let column = meta.columns[*position].name;
        out.push_sql("(");
        crate::sql::push_column(out, meta.table, column)?;
        out.push_sql(if *descending { " < " } else { " > " });
        self.row.bind_column(*position, out)?;
        if !rest.is_empty() {
            out.push_sql(" OR (");
            crate::sql::push_column(out, meta.table, column)?;
            out.push_sql(" = ");
            self.row.bind_column(*position, out)?;
            out.push_sql(" AND ");
            self.walk(rest, out)?;
            out.push_sql(")");
        }
        out.push_sql(")");
        Ok(())
    }
}

impl<M: Model> QueryFragment<MultiBackend> for After<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.walk(self.terms, &mut out)
    }
}
