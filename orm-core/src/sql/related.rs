//! Filters on a related model's columns: `"outer"."column" IN (SELECT …)`
//! over the relation's table (through the link table of a many-to-many).
//! An `IN` never repeats an outer row, and needs no correlation, so it is
//! right for a model related to itself too.

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::{push_column, Fragment};
use crate::backend::MultiBackend;

/// How a relation's rows are reached from the outer table: the outer
/// `column` is one of the `select` column's values of `table` (joined to
/// the related table `join` for a many-to-many).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Lookup {
    /// The outer table's column compared.
    pub column: &'static str,
    /// The table the subquery reads: the related table, or the link table.
    pub table: &'static str,
    /// Its column selected.
    pub select: &'static str,
    /// For a link table: the related table, its column, and the link
    /// table's column it equals.
    pub join: Option<(&'static str, &'static str, &'static str)>,
}

/// `"outer"."column" IN (SELECT "t"."select" FROM "t" [INNER JOIN "r" ON
/// …] WHERE (predicate) AND "t"."select" IS NOT NULL)`; negated, the rows
/// whose column is NULL or not in it.
pub(crate) struct InRelated {
    pub(crate) outer: &'static str,
    pub(crate) lookup: Lookup,
    pub(crate) predicate: Fragment,
    pub(crate) negated: bool,
}

impl QueryFragment<MultiBackend> for InRelated {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let lookup = &self.lookup;
        if self.negated {
            push_column(&mut out, self.outer, lookup.column)?;
            out.push_sql(" IS NULL OR NOT (");
        }
        push_column(&mut out, self.outer, lookup.column)?;
        out.push_sql(" IN (SELECT ");
        push_column(&mut out, lookup.table, lookup.select)?;
        out.push_sql(" FROM ");
        out.push_identifier(lookup.table)?;
        if let Some((related, column, link_column)) = lookup.join {
            out.push_sql(" INNER JOIN ");
            out.push_identifier(related)?;
            out.push_sql(" ON ");
            push_column(&mut out, related, column)?;
            out.push_sql(" = ");
            push_column(&mut out, lookup.table, link_column)?;
        }
        out.push_sql(" WHERE (");
        self.predicate.walk_ast(out.reborrow())?;
        out.push_sql(") AND ");
        push_column(&mut out, lookup.table, lookup.select)?;
        out.push_sql(" IS NOT NULL)");
        if self.negated {
            out.push_sql(")");
        }
        Ok(())
    }
}

/// `(SELECT COUNT(*) FROM "table" AS "__orm_related" WHERE
/// "__orm_related"."select" = "outer"."column")`: how many related rows
/// (links, for a many-to-many) each outer row has. The alias keeps a
/// model related to itself apart from the outer table.
pub(crate) struct CountRelated {
    pub(crate) outer: &'static str,
    pub(crate) lookup: Lookup,
}

impl QueryFragment<MultiBackend> for CountRelated {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        const ALIAS: &str = "__orm_related";
        out.push_sql("(SELECT COUNT(*) FROM ");
        out.push_identifier(self.lookup.table)?;
        out.push_sql(" AS ");
        out.push_identifier(ALIAS)?;
        out.push_sql(" WHERE ");
        push_column(&mut out, ALIAS, self.lookup.select)?;
        out.push_sql(" = ");
        push_column(&mut out, self.outer, self.lookup.column)?;
        out.push_sql(")");
        Ok(())
    }
}
