//! Django's `validate_unique`: the unique constraints another row already
//! holds an instance's values for, found before it is written (model
//! forms report them as errors on the form instead of a database error
//! from the save).

use std::fmt;

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::write::{bind, KeyEq};
use super::Model;
use crate::backend::row::load_any;
use crate::backend::{untyped_query, AnyConnection, MultiBackend};
use crate::error::Result;
use crate::meta::KeyColumn;

/// A unique constraint another row holds the instance's values for: a
/// `unique` field, or a `unique_together` set.
///
/// ```
/// let conflict = orm_core::UniqueConflict { model: "Membership", fields: vec!["person", "group"] };
/// assert_eq!(conflict.to_string(), "Membership with this person and group already exists.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueConflict {
    /// The model.
    pub model: &'static str,
    /// The constraint's fields, in its order: one for a `unique` field.
    pub fields: Vec<&'static str>,
}

impl fmt::Display for UniqueConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = match self.fields.as_slice() {
            [.., last] if self.fields.len() > 1 => format!(
                "{} and {last}",
                self.fields[..self.fields.len() - 1].join(", ")
            ),
            _ => self.fields.join(""),
        };
        write!(f, "{} with this {fields} already exists.", self.model)
    }
}

/// The unique constraints of `M` another row holds `instance`'s values
/// for, in declaration order (`unique_together` last). One query per
/// constraint, each `SELECT key … WHERE column = value … LIMIT 1`. The
/// row holding the instance's key is the instance (so the primary key is
/// not checked: a save writes that row), and a NULL value conflicts with
/// nothing (SQL's `=` never matches NULL, as unique constraints allow
/// many NULLs).
pub(super) fn conflicts<M: Model>(
    instance: &M,
    conn: &mut AnyConnection,
) -> Result<Vec<UniqueConflict>> {
    let meta = M::meta();
    let mut constraints: Vec<Vec<usize>> = meta
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.unique && !c.primary_key)
        .map(|(i, _)| vec![i])
        .collect();
    let together: Vec<usize> = meta
        .unique_together
        .iter()
        .filter_map(|name| meta.columns.iter().position(|c| c.name == *name))
        .collect();
    if !together.is_empty() {
        constraints.push(together);
    }
    let own = instance.pk().map(|key| KeyEq::<M>::new(&key));
    let mut found = Vec::new();
    for columns in constraints {
        let taken = Taken {
            instance,
            columns: &columns,
            own: own.as_ref(),
        };
        if !load_any::<KeyColumn<M::Key>, _>(conn, taken)?.is_empty() {
            found.push(UniqueConflict {
                model: meta.name,
                fields: columns.iter().map(|&i| meta.columns[i].field).collect(),
            });
        }
    }
    Ok(found)
}

/// `SELECT key FROM table WHERE c = value AND … [AND NOT (key = own)]
/// LIMIT 1`: a row other than the instance's holding its values.
struct Taken<'a, M> {
    instance: &'a M,
    columns: &'a [usize],
    own: Option<&'a KeyEq<M>>,
}

impl<M: Model> QueryFragment<MultiBackend> for Taken<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        out.push_sql("SELECT ");
        crate::sql::push_column(&mut out, meta.table, meta.primary_key().name)?;
        out.push_sql(" FROM ");
        out.push_identifier(meta.table)?;
        for (n, &column) in self.columns.iter().enumerate() {
            out.push_sql(if n == 0 { " WHERE " } else { " AND " });
            crate::sql::push_column(&mut out, meta.table, meta.columns[column].name)?;
            out.push_sql(" = ");
            bind(self.instance, column, &mut out)?;
        }
        if let Some(own) = self.own {
            out.push_sql(" AND NOT (");
            own.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(" LIMIT 1");
        Ok(())
    }
}

untyped_query!(impl['a, M: Model] Taken<'a, M>);
