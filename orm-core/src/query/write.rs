//! The writes of a queryset: `bulk_create`, `update`, `delete`, and the
//! foreign-key update relation managers use.

use diesel::query_builder::{AsChangeset, QueryFragment};
use diesel::RunQueryDsl;

use super::QuerySet;
use crate::backend::{retry_write, AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::meta::Key;
use crate::model::{insert_chunked, update_relation_column, Model};
use crate::sql;

impl<M: Model> QuerySet<M> {
    /// Inserts all `rows` in one transaction, with as few statements as the
    /// backend's bind limit allows (one INSERT per chunk; on MySQL each
    /// chunk also reads `LAST_INSERT_ID()` and the session's
    /// `auto_increment_increment`), and fills in their auto-increment keys.
    /// When it fails nothing is written and no row keeps a key it gave.
    pub fn bulk_create(&self, conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let unkeyed: Vec<bool> = rows.iter().map(|r| r.pk().is_none()).collect();
        // After a rollback, keys the failed attempt gave name no row.
        let forget_keys = |rows: &mut [M]| {
            for (row, _) in rows.iter_mut().zip(&unkeyed).filter(|(_, new)| **new) {
                row.set_pk(None);
            }
        };
        let result = retry_write(conn, |conn| {
            forget_keys(rows);
            insert_chunked(conn, rows)
        });
        if result.is_err() {
            forget_keys(rows);
        }
        result
    }

    /// Deletes the matching rows in one statement and returns how many.
    /// A sliced queryset cannot be deleted.
    pub fn delete(&self, conn: &mut AnyConnection) -> Result<usize> {
        self.unsliced("delete")?;
        let statement = sql::Delete {
            table: M::meta().table,
            filters: &self.filters,
        };
        Ok(statement.execute(conn)?)
    }

    /// Updates the matching rows in one statement and returns how many.
    /// `values` is a diesel changeset: `column.eq(value)` or a tuple of
    /// them. A changeset that sets nothing (an empty tuple, or `Option`s
    /// that are all `None`) is `OrmError::InvalidQuery`, and no statement
    /// is sent.
    pub fn update<V>(&self, conn: &mut AnyConnection, values: V) -> Result<usize>
    where
        V: AsChangeset<Target = M::Table>,
        V::Changeset: QueryFragment<MultiBackend> + Send + Sync,
    {
        self.unsliced("update")?;
        let changes = values.as_changeset();
        // `SET` with nothing after it is no statement (diesel refuses it
        // too, before sending anything).
        if changes.is_noop(&conn.multi_backend())? {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: "update() got a changeset that sets no column (every Option was None?); pass at least one `column.eq(value)`".into(),
            });
        }
        let statement = sql::Update {
            table: M::meta().table,
            changes: &changes,
            filters: &self.filters,
        };
        Ok(statement.execute(conn)?)
    }

    /// Points the foreign key `column` of the matching rows at `key` (or
    /// NULL): one UPDATE.
    pub(crate) fn update_relation(
        &self,
        conn: &mut AnyConnection,
        column: &'static str,
        key: Option<Key>,
    ) -> Result<usize> {
        self.unsliced("update")?;
        update_relation_column::<M>(conn, column, key, &self.filters)
    }

    fn unsliced(&self, what: &str) -> Result<()> {
        if self.distinct_on_terms().is_some() {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: format!("cannot {what} a queryset with distinct_on; filter it on the keys it loads instead"),
            });
        }
        if self.limit.is_some() || self.offset.is_some() {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: format!("cannot {what} a queryset with limit or offset; filter it instead"),
            });
        }
        Ok(())
    }
}
