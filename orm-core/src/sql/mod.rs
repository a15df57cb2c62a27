//! The SQL orm-core writes itself, built from model metadata: `SELECT`
//! (with joins, filters, ordering and a slice), `COUNT`, `EXISTS`,
//! `UPDATE` and `DELETE` over filters, and key lists. Values are always
//! bound parameters and identifiers are quoted by the backend, so tables
//! named `order` or `group` work. Filters and orderings are diesel
//! expressions; they render themselves.

use std::marker::PhantomData;
use std::sync::Arc;

use diesel::backend::Backend;
use diesel::expression::{Expression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};
use diesel::{ExpressionMethods, QueryResult};

use crate::backend::{untyped_query, Dialect, MultiBackend, OnEveryBackend, Portable};
use crate::meta::{ColumnMeta, Key, OrderTerm, SqlKind};

mod related;
mod select;

pub use related::Lookup;
pub(crate) use related::{CountRelated, InRelated};
pub use select::RowLock;
mod window;
pub(crate) use select::{
    Count, Distinct, Exists, Expressions, Join, Keys, Order, OrderJoin, Select,
};
pub(crate) use window::{Ranked, RowNumber};

/// A piece of SQL shared by clones of a queryset: a filter, an ordering
/// term, a changeset.
#[derive(Clone)]
pub(crate) enum Fragment {
    /// SQL orm-core wrote: renders for every backend.
    Portable(Arc<dyn Portable>),
    /// A user's diesel expression: renders for `MultiBackend` only.
    Multi(Arc<dyn QueryFragment<MultiBackend> + Send + Sync>),
}

impl Fragment {
    /// orm-core's own SQL.
    pub(crate) fn own(piece: impl Portable + 'static) -> Self {
        Fragment::Portable(Arc::new(piece))
    }

    /// A user's diesel expression.
    pub(crate) fn user(piece: impl QueryFragment<MultiBackend> + Send + Sync + 'static) -> Self {
        Fragment::Multi(Arc::new(piece))
    }

    /// Whether it renders for every backend (not only `MultiBackend`).
    pub(crate) fn is_portable(&self) -> bool {
        matches!(self, Fragment::Portable(_))
    }

    /// `piece`, which holds `inner`: as portable as `inner` is.
    fn around(inner: &Fragment, piece: impl OnEveryBackend + Send + Sync + 'static) -> Self {
        match inner {
            Fragment::Portable(_) => Fragment::own(piece),
            Fragment::Multi(_) => Fragment::user(piece),
        }
    }
}

impl<DB: Dialect> QueryFragment<DB> for Fragment {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        match self {
            Fragment::Portable(piece) => DB::walk_portable(&**piece, out),
            Fragment::Multi(piece) => DB::walk_multi(&**piece, out),
        }
    }
}

/// Whether every fragment renders for every backend.
pub(crate) fn all_portable(fragments: &[Fragment]) -> bool {
    fragments.iter().all(Fragment::is_portable)
}

/// `"table"."column"`.
pub(crate) fn push_column<DB: Backend>(
    out: &mut AstPass<'_, '_, DB>,
    table: &str,
    column: &str,
) -> QueryResult<()> {
    out.push_identifier(table)?;
    out.push_sql(".");
    out.push_identifier(column)
}

/// ` WHERE (a) AND (b)`, nothing for no filters.
pub(crate) fn push_where<'b, DB: Dialect>(
    out: &mut AstPass<'_, 'b, DB>,
    filters: &'b [Fragment],
) -> QueryResult<()> {
    for (i, filter) in filters.iter().enumerate() {
        out.push_sql(if i == 0 { " WHERE (" } else { " AND (" });
        filter.walk_ast(out.reborrow())?;
        out.push_sql(")");
    }
    Ok(())
}

/// The default ordering of a table, from its metadata. NULLs sort as the
/// smallest value on every backend (as `Option` does in Rust), so rows
/// sorted in Rust match the database's order.
pub(crate) fn push_default_order<DB: Backend>(
    out: &mut AstPass<'_, '_, DB>,
    table: &str,
    columns: &[ColumnMeta],
    ordering: &[OrderTerm],
    first: &mut bool,
) -> QueryResult<()> {
    for term in ordering {
        let nullable = columns.iter().any(|c| c.name == term.column && c.nullable);
        let direction = if term.descending { " DESC" } else { " ASC" };
        if nullable {
            out.push_sql(if *first { " ORDER BY " } else { ", " });
            *first = false;
            push_column(out, table, term.column)?;
            out.push_sql(if term.descending {
                " IS NULL ASC"
            } else {
                " IS NULL DESC"
            });
        }
        out.push_sql(if *first { " ORDER BY " } else { ", " });
        *first = false;
        push_column(out, table, term.column)?;
        out.push_sql(direction);
    }
    Ok(())
}

/// A column named at run time, typed `ST` so diesel's `eq_any` can bind a
/// list against it (`IN (...)`, or `= ANY($1)` on PostgreSQL).
#[derive(Clone, Copy)]
struct ColumnRef<ST> {
    table: &'static str,
    column: &'static str,
    _type: PhantomData<fn() -> ST>,
}

impl<ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType> Expression
    for ColumnRef<ST>
{
    type SqlType = ST;
}

impl<ST> ValidGrouping<()> for ColumnRef<ST> {
    type IsAggregate = diesel::expression::is_aggregate::No;
}

impl<ST> QueryId for ColumnRef<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// For every backend: diesel renders `IN` per backend.
impl<ST, DB: diesel::backend::Backend> QueryFragment<DB> for ColumnRef<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_identifier(self.table)?;
        out.push_sql(".");
        out.push_identifier(self.column)
    }
}

/// `"table"."column" IN (...)` over integer keys. On SQLite the keys are
/// one bound JSON array (`IN (SELECT value FROM json_each(?))`): the
/// statement's text does not depend on how many keys there are, so it is
/// prepared once per connection and binds one value, not one per key.
/// The other backends bind the list through diesel's `eq_any` (`= ANY($1)`
/// on PostgreSQL).
struct IntsIn {
    column: ColumnRef<BigInt>,
    keys: Vec<i64>,
    /// The keys as a JSON array (SQLite), written on first use.
    #[cfg(feature = "sqlite")]
    json: std::sync::OnceLock<String>,
    /// diesel's list (the other backends), built on first use.
    list: std::sync::OnceLock<diesel::dsl::EqAny<ColumnRef<BigInt>, Vec<i64>>>,
}

impl IntsIn {
    fn new(table: &'static str, column: &'static str, keys: Vec<i64>) -> Self {
        IntsIn {
            column: ColumnRef {
                table,
                column,
                _type: PhantomData,
            },
            keys,
            #[cfg(feature = "sqlite")]
            json: std::sync::OnceLock::new(),
            list: std::sync::OnceLock::new(),
        }
    }

    /// `column IN (SELECT value FROM json_each(?))`, the keys bound as
    /// one JSON array.
    #[cfg(feature = "sqlite")]
    fn walk_json<'b, DB: Dialect>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        DB::bind_text(&mut out, self.json())?;
        out.push_sql("))");
        Ok(())
    }

    #[cfg(feature = "sqlite")]
    fn json(&self) -> &String {
        self.json.get_or_init(|| {
            use std::fmt::Write;
            let mut json = String::with_capacity(self.keys.len() * 8 + 2);
            json.push('[');
            for (i, key) in self.keys.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                let _ = write!(json, "{key}");
            }
            json.push(']');
            json
        })
    }
}

impl<DB: Dialect> QueryFragment<DB> for IntsIn
where
    diesel::dsl::EqAny<ColumnRef<BigInt>, Vec<i64>>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        #[cfg(feature = "sqlite")]
        if out.backend().kind() == crate::BackendKind::Sqlite {
            return self.walk_json(out);
        }
        self.list
            .get_or_init(|| self.column.eq_any(self.keys.clone()))
            .walk_ast(out)
    }
}

/// A predicate that is never true.
struct Never;

impl<DB: Backend> QueryFragment<DB> for Never {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("1 = 0");
        Ok(())
    }
}

/// `"table"."column" IN (keys)`: the keys bound as one list (chunk them
/// below the backend's bind limit first). Keys of mixed kinds match
/// nothing. One key is `"table"."column" = key`: diesel does not cache the
/// prepared statement of an `IN` list with binds (SQLite, MySQL), and a
/// single-key lookup (`get`, lazy loading) repeats the same statement.
pub(crate) fn key_in(table: &'static str, column: &'static str, keys: &[Key]) -> Fragment {
    fn all<T>(keys: &[Key], f: impl Fn(&Key) -> Option<T>) -> Option<Vec<T>> {
        keys.iter().map(f).collect()
    }
    let first = match keys {
        [] => return Fragment::own(Never),
        [key] => {
            let is = ColumnIs {
                table,
                column,
                key: BoundKey(key.clone()),
            };
            return match key {
                #[cfg(feature = "uuid")]
                Key::Uuid(_) => Fragment::user(is),
                _ => Fragment::own(is),
            };
        }
        [first, ..] => first,
    };
    let matched = match first {
        Key::Int(_) => all(keys, |k| match k {
            Key::Int(i) => Some(*i),
            _ => None,
        })
        .map(|ints| Fragment::own(IntsIn::new(table, column, ints))),
        Key::Text(_) => all(keys, |k| match k {
            Key::Text(s) => Some(s.clone()),
            _ => None,
        })
        .map(|texts| {
            Fragment::own(
                ColumnRef::<Text> {
                    table,
                    column,
                    _type: PhantomData,
                }
                .eq_any(texts),
            )
        }),
        // diesel renders `IN` per backend, and the backends other than
        // PostgreSQL have no `Uuid` SQL type: the list is bound key by key.
        #[cfg(feature = "uuid")]
        Key::Uuid(_) => keys.iter().all(|k| matches!(k, Key::Uuid(_))).then(|| {
            Fragment::user(KeysIn {
                table,
                column,
                keys: keys.to_vec(),
            })
        }),
    };
    matched.unwrap_or_else(|| Fragment::own(Never))
}

/// `"table"."column" = key`: portable for an integer or a text key.
struct ColumnIs {
    table: &'static str,
    column: &'static str,
    key: BoundKey,
}

impl<DB: Dialect> QueryFragment<DB> for ColumnIs {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        push_column(&mut out, self.table, self.column)?;
        out.push_sql(" = ");
        match &self.key.0 {
            Key::Int(i) => DB::bind_int(&mut out, i),
            Key::Text(s) => DB::bind_text(&mut out, s),
            #[cfg(feature = "uuid")]
            Key::Uuid(_) => DB::walk_multi(&self.key, out),
        }
    }
}

/// A key bound as a parameter of `MultiBackend` (any kind of key).
struct BoundKey(Key);

impl QueryFragment<MultiBackend> for BoundKey {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.0.bind(&mut out)
    }
}

/// `"table"."column" IN (key, ...)`, each key bound by itself (a non-empty
/// list).
#[cfg(feature = "uuid")]
struct KeysIn {
    table: &'static str,
    column: &'static str,
    keys: Vec<Key>,
}

#[cfg(feature = "uuid")]
impl QueryFragment<MultiBackend> for KeysIn {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        push_column(&mut out, self.table, self.column)?;
        out.push_sql(" IN (");
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            key.bind(&mut out)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// `NOT ("table"."column" IN (keys))`: true for every row when `keys` is
/// empty. One list: chunking cannot split a `NOT IN`.
pub(crate) fn key_not_in(table: &'static str, column: &'static str, keys: &[Key]) -> Fragment {
    let inner = key_in(table, column, keys);
    Fragment::around(&inner, Not(inner.clone()))
}

/// `NOT (predicate)`.
struct Not(Fragment);

impl<DB: Dialect> QueryFragment<DB> for Not {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("NOT (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// `"column" = key` (or `NULL`): the `SET` of an update pointing a
/// foreign key at `key`.
pub(crate) struct SetKey {
    pub(crate) column: &'static str,
    /// The column's SQL type, for a NULL.
    pub(crate) kind: SqlKind,
    pub(crate) key: Option<Key>,
}

impl QueryFragment<MultiBackend> for SetKey {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_identifier(self.column)?;
        out.push_sql(" = ");
        match &self.key {
            Some(key) => key.bind(&mut out),
            None => Key::bind_null(self.kind, &mut out),
        }
    }
}

/// `DELETE FROM table WHERE filters`.
pub(crate) struct Delete<'a> {
    pub(crate) table: &'static str,
    pub(crate) filters: &'a [Fragment],
}

impl QueryFragment<MultiBackend> for Delete<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("DELETE FROM ");
        out.push_identifier(self.table)?;
        push_where(&mut out, self.filters)
    }
}

untyped_query!(impl['a] Delete<'a>);

/// `UPDATE table SET changes WHERE filters`.
pub(crate) struct Update<'a> {
    pub(crate) table: &'static str,
    pub(crate) changes: &'a (dyn QueryFragment<MultiBackend> + Send + Sync),
    pub(crate) filters: &'a [Fragment],
}

impl QueryFragment<MultiBackend> for Update<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        out.push_identifier(self.table)?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        push_where(&mut out, self.filters)
    }
}

untyped_query!(impl['a] Update<'a>);

/// A boolean diesel expression kept as a fragment: `Nullable<Bool>` or
/// `Bool` predicates render the same.
pub(crate) fn predicate<E>(expression: E) -> Fragment
where
    E: Expression + QueryFragment<MultiBackend> + Send + Sync + 'static,
    E::SqlType: diesel::sql_types::BoolOrNullableBool,
{
    Fragment::user(expression)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_of_integers_and_text_render_for_every_backend() {
        let ints = [Key::Int(1), Key::Int(2)];
        let texts = [Key::Text("a".into()), Key::Text("b".into())];
        for keys in [&ints[..], &ints[..1], &texts[..], &texts[..1], &[]] {
            assert!(key_in("t", "c", keys).is_portable(), "{keys:?}");
            assert!(key_not_in("t", "c", keys).is_portable(), "{keys:?}");
        }
    }

    #[test]
    fn a_user_expression_renders_through_multi_backend_only() {
        let user = predicate(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1"));
        assert!(!user.is_portable());
        assert!(!all_portable(&[key_in("t", "c", &[Key::Int(1)]), user]));
    }

    #[cfg(feature = "uuid")]
    #[test]
    fn uuid_key_lists_render_through_multi_backend_only() {
        let keys = [Key::Uuid(uuid::Uuid::nil()), Key::Uuid(uuid::Uuid::max())];
        for keys in [&keys[..], &keys[..1]] {
            assert!(!key_in("t", "c", keys).is_portable());
            assert!(!key_not_in("t", "c", keys).is_portable());
        }
    }
}
