//! Keyset pagination for streaming: each chunk after the first starts
//! after the previous chunk's last row (`WHERE (a, key) > (…)`, spelled
//! out per direction), so the database skips nothing it already sent.

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types;
use diesel::QueryResult;

use super::QuerySet;
use crate::backend::{BackendKind, MultiBackend};
use crate::meta::SqlKind;
use crate::model::Model;

/// One term of a keyset ordering: a column position and its direction.
pub(super) type Term = (usize, bool);

impl<M: Model> QuerySet<M> {
    /// The stream's ordering as columns, the key last, when chunks can
    /// continue from a row: the model's default ordering on columns that
    /// are never NULL (or none), then the key. `None` (chunks by OFFSET)
    /// for an `order_by`, whose expressions are opaque, for a nullable
    /// ordering column, and for one whose loaded value may not compare
    /// equal to the stored one: JSON (MySQL compares a JSON column with
    /// a text parameter as a JSON string), and decimals on SQLite (a row
    /// `bulk_update` or raw SQL wrote holds its value as written, and
    /// loads rounded to `decimal_places`).
    pub(super) fn keyset(&self, backend: BackendKind) -> Option<Vec<Term>> {
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
            let column = &meta.columns[position];
            let inexact = match column.kind {
                SqlKind::Json => true,
                SqlKind::Decimal => backend == BackendKind::Sqlite,
                _ => false,
            };
            if column.nullable || inexact {
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
///
/// The row's values are compared, not written, so text is bound without
/// the write checks: a value stored before a `max_length` was lowered
/// (or by raw SQL on SQLite, which keeps longer text) still continues the
/// stream.
pub(super) struct After<'r, M> {
    row: &'r M,
    terms: &'r [Term],
    /// Each term's value when it is text, taken from the row.
    texts: Vec<Option<String>>,
}

impl<'r, M: Model> After<'r, M> {
    pub(super) fn new(row: &'r mut M, terms: &'r [Term]) -> Self {
        let texts = terms
            .iter()
            .map(|(position, _)| {
                row.field_mut(*position)
                    .and_then(|field| field.downcast_ref::<String>())
                    .cloned()
            })
            .collect();
        After {
            row: &*row,
            terms,
            texts,
        }
    }

    fn bind<'b>(&'b self, term: usize, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match &self.texts[term] {
            Some(text) => out.push_bind_param::<sql_types::Text, _>(text),
            None => self.row.bind_column(self.terms[term].0, out),
        }
    }

    /// Walks the terms from `term` on.
    fn walk<'b>(&'b self, term: usize, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let Some((position, descending)) = self.terms.get(term) else {
            return Ok(());
        };
        let meta = M::meta();
        let column = meta.columns[*position].name;
        out.push_sql("(");
        crate::sql::push_column(out, meta.table, column)?;
        out.push_sql(if *descending { " < " } else { " > " });
        self.bind(term, out)?;
        if term + 1 < self.terms.len() {
            out.push_sql(" OR (");
            crate::sql::push_column(out, meta.table, column)?;
            out.push_sql(" = ");
            self.bind(term, out)?;
            out.push_sql(" AND ");
            self.walk(term + 1, out)?;
            out.push_sql(")");
        }
        out.push_sql(")");
        Ok(())
    }
}

impl<M: Model> QueryFragment<MultiBackend> for After<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.walk(0, &mut out)
    }
}
