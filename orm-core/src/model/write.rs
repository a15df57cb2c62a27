//! The statements writing instances: `INSERT` (with an upsert clause or a
//! `RETURNING` of the key), `UPDATE` of one row, and the key filter.

use std::marker::PhantomData;

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use super::Model;
use crate::backend::{untyped_query, BackendKind, MultiBackend};
use crate::error::name_field;
use crate::meta::{Key, KeyType};

/// Binds column `column` of `row`; a value the backend cannot store is
/// reported with its model and field.
pub(super) fn bind<'b, M: Model>(
    row: &'b M,
    column: usize,
    out: &mut AstPass<'_, 'b, MultiBackend>,
) -> QueryResult<()> {
    row.bind_column(column, out).map_err(|e| {
        let meta = M::meta();
        name_field(e, meta.name, meta.columns[column].field)
    })
}

/// `"table"."pk" = key`.
pub(crate) struct KeyEq<M> {
    pub(crate) key: Key,
    pub(crate) _model: PhantomData<fn() -> M>,
}

impl<M: Model> KeyEq<M> {
    pub(crate) fn new(key: &M::Key) -> Self {
        KeyEq {
            key: key.to_key(),
            _model: PhantomData,
        }
    }
}

impl<M: Model> QueryFragment<MultiBackend> for KeyEq<M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        crate::sql::push_column(&mut out, meta.table, meta.primary_key().name)?;
        out.push_sql(" = ");
        self.key.bind(&mut out)
    }
}

/// What an INSERT does when a row with the same key exists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Fail (a plain INSERT).
    Fail,
    /// Overwrite the row's other columns (an upsert on the primary key).
    Update,
    /// Skip the row when it would break a unique constraint (a link that
    /// exists already).
    Ignore,
}

/// `INSERT INTO table (columns) VALUES (...), (...)`, then an upsert
/// clause or `RETURNING key`.
pub(crate) struct Insert<'a, M> {
    pub(crate) backend: BackendKind,
    pub(crate) rows: &'a [&'a M],
    /// Positions of the columns written (the auto key is left out when
    /// the database assigns it).
    pub(crate) columns: &'a [usize],
    pub(crate) returning_key: bool,
    pub(crate) on_conflict: OnConflict,
}

impl<M: Model> Insert<'_, M> {
    /// `ON CONFLICT (key) DO UPDATE SET …` (SQLite, PostgreSQL; `save`
    /// updates, then inserts, on MySQL).
    fn push_upsert(&self, out: &mut AstPass<'_, '_, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        let key = meta.primary_key().name;
        let others: Vec<&str> = self
            .columns
            .iter()
            .map(|&c| meta.columns[c].name)
            .filter(|&c| c != key)
            .collect();
        out.push_sql(" ON CONFLICT (");
        out.push_identifier(key)?;
        if others.is_empty() {
            out.push_sql(") DO NOTHING");
            return Ok(());
        }
        out.push_sql(") DO UPDATE SET ");
        for (i, column) in others.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
            out.push_sql(" = ");
            out.push_identifier("excluded")?;
            out.push_sql(".");
            out.push_identifier(column)?;
        }
        Ok(())
    }
}

impl<M: Model> Insert<'_, M> {
    /// `ON CONFLICT DO NOTHING`; on MySQL a no-op `ON DUPLICATE KEY
    /// UPDATE`, which (unlike `INSERT IGNORE`) skips duplicates only and
    /// still fails on a foreign key or a bad value.
    fn push_ignore(&self, out: &mut AstPass<'_, '_, MultiBackend>) -> QueryResult<()> {
        if self.backend != BackendKind::Mysql {
            out.push_sql(" ON CONFLICT DO NOTHING");
            return Ok(());
        }
        let meta = M::meta();
        let column = self
            .columns
            .first()
            .map_or(meta.primary_key().name, |&c| meta.columns[c].name);
        out.push_sql(" ON DUPLICATE KEY UPDATE ");
        out.push_identifier(column)?;
        out.push_sql(" = ");
        out.push_identifier(column)
    }
}

impl<M: Model> QueryFragment<MultiBackend> for Insert<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        out.push_sql("INSERT INTO ");
        out.push_identifier(meta.table)?;
        if self.columns.is_empty() {
            // A model with nothing but its auto key.
            out.push_sql(match self.backend {
                BackendKind::Mysql => " () VALUES ()",
                BackendKind::Sqlite | BackendKind::Postgres => " DEFAULT VALUES",
            });
        } else {
            out.push_sql(" (");
            for (i, &column) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_identifier(meta.columns[column].name)?;
            }
            out.push_sql(") VALUES ");
            for (r, row) in self.rows.iter().enumerate() {
                out.push_sql(if r == 0 { "(" } else { ", (" });
                for (i, &column) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push_sql(", ");
                    }
                    bind(*row, column, &mut out)?;
                }
                out.push_sql(")");
            }
        }
        match self.on_conflict {
            OnConflict::Fail => {}
            OnConflict::Update => self.push_upsert(&mut out)?,
            OnConflict::Ignore => self.push_ignore(&mut out)?,
        }
        if self.returning_key {
            out.push_sql(" RETURNING ");
            out.push_identifier(meta.primary_key().name)?;
        }
        Ok(())
    }
}

untyped_query!(impl['a, M: Model] Insert<'a, M>);

/// `UPDATE table SET every other column WHERE key = …`.
pub(crate) struct UpdateRow<'a, M: Model> {
    pub(crate) row: &'a M,
    pub(crate) key: KeyEq<M>,
}

impl<M: Model> QueryFragment<MultiBackend> for UpdateRow<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        out.push_sql("UPDATE ");
        out.push_identifier(meta.table)?;
        out.push_sql(" SET ");
        let columns = meta
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.primary_key);
        for (i, (position, column)) in columns.enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column.name)?;
            out.push_sql(" = ");
            bind(self.row, position, &mut out)?;
        }
        out.push_sql(" WHERE ");
        self.key.walk_ast(out.reborrow())
    }
}

untyped_query!(impl['a, M: Model] UpdateRow<'a, M>);

/// `UPDATE table SET c = CASE key WHEN k1 THEN v1 … END, … WHERE key IN
/// (k1, …)`: chosen columns of several rows in one statement.
pub(crate) struct BulkUpdate<'a, M> {
    pub(crate) rows: &'a [&'a M],
    /// Each row's key, in order: compared, not written, so bound as the
    /// key it is (a value the write checks would refuse, such as text
    /// over a `max_length` lowered since, still finds its row).
    pub(crate) keys: &'a [Key],
    /// Positions of the columns set (never the key).
    pub(crate) columns: &'a [usize],
}

impl<M: Model> QueryFragment<MultiBackend> for BulkUpdate<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let meta = M::meta();
        let key = meta
            .columns
            .iter()
            .position(|c| c.primary_key)
            .unwrap_or_default();
        out.push_sql("UPDATE ");
        out.push_identifier(meta.table)?;
        out.push_sql(" SET ");
        for (i, &column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(meta.columns[column].name)?;
            out.push_sql(" = CASE ");
            crate::sql::push_column(&mut out, meta.table, meta.columns[key].name)?;
            for (row, row_key) in self.rows.iter().zip(self.keys) {
                out.push_sql(" WHEN ");
                row_key.bind(&mut out)?;
                out.push_sql(" THEN ");
                bind(*row, column, &mut out)?;
            }
            out.push_sql(" END");
        }
        out.push_sql(" WHERE ");
        crate::sql::push_column(&mut out, meta.table, meta.columns[key].name)?;
        out.push_sql(" IN (");
        for (i, row_key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            row_key.bind(&mut out)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

untyped_query!(impl['a, M: Model] BulkUpdate<'a, M>);
