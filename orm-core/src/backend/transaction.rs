//! Write transactions: every multi-statement write of the crate runs in
//! one, and on SQLite it takes the write lock up front.

#[cfg(feature = "sqlite")]
use diesel::connection::AnsiTransactionManager;
use diesel::connection::TransactionManager;
use diesel::Connection;

use super::AnyConnection;
use crate::error::{OrmError, Result};

/// Runs `f` in a transaction meant to write, committing when it returns
/// `Ok` and rolling back when it returns `Err`; inside another transaction
/// it is a savepoint, as diesel's `transaction` is.
///
/// On SQLite the outermost one starts with `BEGIN IMMEDIATE`: it takes the
/// write lock first, so a busy database makes it wait (the busy timeout)
/// instead of failing with "database is locked" when a read turns into a
/// write half-way through, as a plain (deferred) `BEGIN` does. Elsewhere it
/// is diesel's `transaction`. The crate's own writes (relation managers,
/// `bulk_create`, form saves) use it; use it for yours.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use diesel::connection::SimpleConnection;
///
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// conn.batch_execute("CREATE TABLE t (x INTEGER)")?;
/// let log = orm_core::write_transaction(&mut conn, |conn| {
///     let (result, log) = orm_core::capture_queries(conn, |conn| {
///         conn.batch_execute("INSERT INTO t VALUES (1)")
///     });
///     result?;
///     Ok(log)
/// })?;
/// assert_eq!(log.count(), 1);
/// # Ok(()) }
/// ```
pub fn write_transaction<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    #[cfg(feature = "sqlite")]
    if !in_transaction(conn)? {
        #[allow(irrefutable_let_patterns)] // SQLite may be the only backend
        if let AnyConnection::Sqlite(sqlite) = conn {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
            return finish(conn, f);
        }
    }
    conn.transaction(f)
}

/// Whether `conn` is inside a transaction.
pub(crate) fn in_transaction(conn: &mut AnyConnection) -> Result<bool> {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    Ok(Manager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some())
}

/// How many times the crate runs one of its own writes in all when the
/// database keeps breaking deadlocks by rolling it back.
const ATTEMPTS: usize = 3;

/// [`write_transaction`] for the crate's own writes, which name their
/// whole result (`set` these links, insert these rows): when the database
/// rolled the transaction back to break a deadlock (InnoDB does under
/// concurrent writes to neighbouring index ranges) or a serialization
/// failure, it is run again, up to three times in all. Only an outermost
/// transaction is retried: inside the caller's, the error is theirs.
pub(crate) fn retry_write<T>(
    conn: &mut AnyConnection,
    mut f: impl FnMut(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    let outermost = !in_transaction(conn)?;
    let mut attempt = 1;
    loop {
        match write_transaction(conn, &mut f) {
            Err(e) if outermost && attempt < ATTEMPTS && rolled_back(&e) => {
                tracing::debug!(target: "orm::transaction", attempt, "retrying a write rolled back by the database: {e}");
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether the database rolled the transaction back for a deadlock or a
/// serialization failure (MySQL 1213, PostgreSQL 40001).
fn rolled_back(e: &OrmError) -> bool {
    matches!(
        e,
        OrmError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::SerializationFailure,
            _
        ))
    )
}

/// Runs `f` inside the transaction just begun and ends it as diesel's
/// `transaction` does: commit on `Ok`; rollback on `Err` or when the
/// commit fails, keeping the first error.
#[cfg(feature = "sqlite")]
fn finish<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit) => {
                // The commit's error is what the caller needs; a failed
                // rollback after it adds nothing.
                let _ = Manager::rollback_transaction(conn);
                Err(commit.into())
            }
        },
        Err(e) => {
            // As diesel's `transaction`: the closure's error wins.
            let _ = Manager::rollback_transaction(conn);
            Err(e)
        }
    }
}
