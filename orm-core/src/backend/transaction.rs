//! Transactions: `atomic` with savepoints and `on_commit` callbacks,
//! write transactions (every multi-statement write of the crate runs in
//! one; on SQLite it takes the write lock up front; on MySQL the crate's
//! own run at `READ COMMITTED`), deadlock retries.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[cfg(any(feature = "sqlite", feature = "mysql"))]
use diesel::connection::AnsiTransactionManager;
use diesel::connection::TransactionManager;
use diesel::Connection;

use super::instrument;
use super::levels::{Level, Written};
use super::{AnyConnection, BackendKind};
use crate::error::{OrmError, Result};

/// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
/// when it returns `Err` (the closure's error is returned). Inside another
/// transaction it is a savepoint: an inner `atomic` that fails rolls back
/// its own work only, and the outer one goes on.
///
/// - [`on_commit`] callbacks registered inside run once the outermost
///   transaction has committed, in order; a rollback drops the ones
///   registered in what it rolled back (a savepoint's, or all).
/// - Relation caches written inside (managers' rows, loaded foreign keys,
///   prefetches) record the transaction level they were written in; after
///   a rollback of that level they count as empty, so the next read
///   queries the database again. After a commit they stay: 0 queries.
///   This holds for any transaction on a connection from [`Db`](crate::Db)
///   (diesel's `transaction` too).
///
/// - On PostgreSQL, a statement that failed inside the block (its error
///   swallowed, outside a nested `atomic`) aborted the transaction: `Ok`
///   then rolls back and returns [`OrmError::Transaction`] instead of a
///   `COMMIT` PostgreSQL would turn into a silent rollback.
/// - A panic unwinding out of the block rolls its level back (a
///   savepoint, or the whole transaction) before it goes on unwinding. A
///   block that returns `Ok` while a nested transaction it began is still
///   open (a caught panic inside diesel's own `transaction`) is rolled
///   back and returns [`OrmError::Transaction`].
/// - MySQL commits the transaction implicitly before and after DDL
///   (`CREATE`, `ALTER`, `DROP TABLE`...): what ran before it is stored
///   whatever the block returns. Run DDL outside `atomic` there.
///
/// On SQLite it begins with a plain (deferred) `BEGIN`; use
/// [`write_transaction`] for a block that writes while other connections
/// write too.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use std::sync::{Arc, Mutex};
/// use diesel::connection::SimpleConnection;
///
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// conn.batch_execute("CREATE TABLE t (x INTEGER)")?;
/// let sent = Arc::new(Mutex::new(Vec::new()));
/// orm_core::atomic(&mut conn, |conn| {
///     conn.batch_execute("INSERT INTO t VALUES (1)")?;
///     let log = Arc::clone(&sent);
///     orm_core::on_commit(conn, move || log.lock().unwrap().push("mail 1"))?;
///     // A savepoint that fails: its insert and its callback are gone.
///     let inner: orm_core::Result<()> = orm_core::atomic(conn, |conn| {
///         conn.batch_execute("INSERT INTO t VALUES (2)")?;
///         let log = Arc::clone(&sent);
///         orm_core::on_commit(conn, move || log.lock().unwrap().push("mail 2"))?;
///         Err(orm_core::OrmError::NotFound { model: "T" })
///     });
///     assert!(inner.is_err());
///     assert!(sent.lock().unwrap().is_empty()); // nothing before the commit
///     Ok::<_, orm_core::OrmError>(())
/// })?;
/// assert_eq!(*sent.lock().unwrap(), ["mail 1"]);
/// # Ok(()) }
/// ```
pub fn atomic<T, E: From<OrmError>>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    run(conn, Begin::Plain, f)
}

/// [`atomic`] for a block meant to write: on SQLite the outermost one
/// starts with `BEGIN IMMEDIATE`, taking the write lock first, so a busy
/// database makes it wait (the busy timeout) instead of failing with
/// "database is locked" when a read turns into a write half-way through,
/// as a plain (deferred) `BEGIN` does. Elsewhere it is [`atomic`]. Form
/// saves use it, and the crate's other writes (relation managers,
/// `bulk_create`) begin the same way on SQLite; use it for yours.
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
    run(conn, Begin::Write, f)
}

/// Runs `callback` once the transaction `conn` is in has committed (the
/// outermost one, begun by [`atomic`] or [`write_transaction`]); outside
/// a transaction, at once. A rollback of the transaction, or of the
/// savepoint it was registered in, drops it. Callbacks run in the order
/// they were registered, after `COMMIT` returned, on the thread that
/// committed; a panic in one propagates and the later ones do not run.
///
/// Errors with [`OrmError::Transaction`] when the outermost transaction
/// was begun otherwise (diesel's `transaction`), or `conn` was not opened
/// by [`Db`](crate::Db): nothing would run the callback.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// let ran = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&ran);
/// let rolled_back: orm_core::Result<()> = orm_core::atomic(&mut conn, |conn| {
///     orm_core::on_commit(conn, move || flag.store(true, Ordering::SeqCst))?;
///     Err(orm_core::OrmError::NotFound { model: "Job" })
/// });
/// assert!(rolled_back.is_err());
/// assert!(!ran.load(Ordering::SeqCst)); // dropped with the rollback
/// # Ok(()) }
/// ```
pub fn on_commit(conn: &mut AnyConnection, callback: impl FnOnce() + Send + 'static) -> Result<()> {
    let Some(depth) = depth(conn)? else {
        callback();
        return Ok(());
    };
    let Some(level) = instrument::level(conn, depth) else {
        return Err(OrmError::Transaction {
            reason: "on_commit needs a connection from orm_core::Db (its instrumentation sees the commit); this one was opened otherwise or its instrumentation replaced",
        });
    };
    if !level.root().is_managed() {
        return Err(OrmError::Transaction {
            reason: "on_commit inside a transaction not begun by orm_core::atomic or write_transaction: nothing would run the callback after its commit; begin the outermost transaction with atomic",
        });
    }
    level.push_callback(Box::new(callback));
    Ok(())
}

type Manager = <AnyConnection as Connection>::TransactionManager;

/// The transaction depth of `conn` (1: in a transaction, 2: in a
/// savepoint of it...), `None` outside one.
fn depth(conn: &mut AnyConnection) -> Result<Option<usize>> {
    Ok(Manager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map(|d| d.get() as usize))
}

/// Whether `conn` is inside a transaction.
pub(crate) fn in_transaction(conn: &mut AnyConnection) -> Result<bool> {
    Ok(depth(conn)?.is_some())
}

/// The transaction level a cache written now on `conn` belongs to:
/// nothing outside a transaction (a cheap check of the connection's own
/// state); an already rolled-back level when the state is unknown (the
/// transaction manager broken, a connection not from the pool), so such a
/// cache is never trusted.
pub(crate) fn written_now(conn: &mut AnyConnection) -> Written {
    match depth(conn) {
        Ok(None) => Written::default(),
        Ok(Some(depth)) => {
            Written::at(instrument::level(conn, depth).unwrap_or_else(Level::rolled_back))
        }
        Err(_) => Written::at(Level::rolled_back()),
    }
}

/// Begins a transaction (or a savepoint), runs `f`, commits on `Ok` and
/// rolls back on `Err`, as diesel's `transaction` does (the closure's
/// error wins over a failed rollback); after the outermost commit, runs
/// the `on_commit` callbacks.
fn run<T, E: From<OrmError>>(
    conn: &mut AnyConnection,
    how: Begin,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    let depth = depth(conn)?.unwrap_or(0) + 1;
    begin(conn, if depth == 1 { how } else { Begin::Plain }).map_err(OrmError::from)?;
    let level = instrument::level(conn, depth);
    if let (1, Some(level)) = (depth, &level) {
        level.set_managed();
    }
    // A panic unwinding out of `f` rolls this level back, so a caller
    // that catches it keeps a connection at the depth it had.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn)));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            roll_back_to(conn, depth);
            std::panic::resume_unwind(panic);
        }
    };
    // A nested transaction `f` left open (diesel's own `transaction`
    // unwound by a caught panic, or a savepoint MySQL's implicit commit
    // of DDL made fail): committing would only end that one.
    if outcome.is_ok() && matches!(self::depth(conn), Ok(Some(d)) if d > depth) {
        roll_back_to(conn, depth);
        return Err(OrmError::Transaction {
            reason: "a nested transaction was left open inside this atomic block (a panic caught inside it, or a savepoint MySQL ended by the implicit commit of a DDL statement), so the block was rolled back; let nested blocks finish, and run DDL outside atomic on MySQL",
        }
        .into());
    }
    match outcome {
        Ok(value) => {
            if level.as_ref().is_some_and(|l| l.has_failed()) {
                // The server aborted it: PostgreSQL's COMMIT would roll
                // back without an error, MySQL's would commit what ran
                // after the deadlock outside any transaction.
                roll_back_to(conn, depth);
                return Err(OrmError::Transaction {
                    reason: aborted_reason(conn.backend()),
                }
                .into());
            }
            // On a failed `COMMIT`, diesel rolls back itself; the level is
            // marked here too, in case no rollback event reached it
            // (PostgreSQL may end the transaction on its own).
            if let Err(e) = Manager::commit_transaction(conn) {
                if let (1, Some(level)) = (depth, &level) {
                    level.commit_failed();
                }
                // A savepoint whose `RELEASE` failed is still open.
                roll_back_to(conn, depth);
                return Err(OrmError::from(e).into());
            }
            if let (1, Some(level)) = (depth, level) {
                for callback in level.take_callbacks() {
                    callback();
                }
            }
            Ok(value)
        }
        Err(e) => {
            roll_back_to(conn, depth);
            Err(e)
        }
    }
}

/// Rolls back every level of `conn`'s transaction from the innermost to
/// `depth` (1: the whole transaction). A rollback that fails still leaves
/// its level (diesel lowers the depth, as for a savepoint MySQL's implicit
/// commit destroyed); it stops when a rollback leaves the depth as it was
/// (the transaction manager broken: the pool then discards the
/// connection).
fn roll_back_to(conn: &mut AnyConnection, depth: usize) {
    let mut current = self::depth(conn).ok().flatten();
    while let Some(open) = current.filter(|d| *d >= depth) {
        let _ = Manager::rollback_transaction(conn);
        current = self::depth(conn).ok().flatten();
        if current.is_some_and(|after| after >= open) {
            break;
        }
    }
}

/// Why a block whose transaction the server aborted returns an error.
fn aborted_reason(backend: BackendKind) -> &'static str {
    if backend == BackendKind::Mysql {
        "a deadlock inside this atomic block made MySQL roll the whole transaction back, savepoints included (what ran after it in the block ran outside any transaction); return the deadlock error from the closure and run the whole transaction again"
    } else {
        "a statement failed inside this atomic block and PostgreSQL aborted the transaction, so it was rolled back; return the error from the closure, or run the statement that may fail in a nested atomic (a savepoint)"
    }
}

/// How an outermost transaction begins.
#[derive(Clone, Copy)]
enum Begin {
    /// `BEGIN`, at the database's isolation level.
    Plain,
    /// [`write_transaction`]: `BEGIN IMMEDIATE` on SQLite.
    Write,
    /// The crate's own writes ([`retry_write`]): as `Write`, and at `READ
    /// COMMITTED` on MySQL.
    OwnWrite,
}

/// Begins a transaction as `how` says, or a savepoint inside one (`how`
/// is then `Plain`).
///
/// The crate's own writes name their whole result and decide nothing on
/// what they read (a `save` among them is an `UPDATE`, then an `INSERT` if
/// no row had the key, as outside a transaction), so on MySQL they run at
/// `READ COMMITTED`, PostgreSQL's default: InnoDB then locks the rows a
/// `DELETE` or `UPDATE` changes, not the gaps between them (at `REPEATABLE
/// READ`, the links of neighbouring owners), and concurrent writes to
/// neighbouring rows stop deadlocking. It costs no round trip: diesel
/// sends MySQL's `BEGIN` as a batch anyway.
/// A server that logs statements (`binlog_format = STATEMENT`) refuses
/// InnoDB writes at `READ COMMITTED`: [`retry_write`] begins as `Write`
/// there.
fn begin(conn: &mut AnyConnection, how: Begin) -> diesel::QueryResult<()> {
    #[allow(irrefutable_let_patterns)] // one backend may be all there is
    match (how, &mut *conn) {
        #[cfg(feature = "sqlite")]
        (Begin::Write | Begin::OwnWrite, AnyConnection::Sqlite(sqlite)) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        #[cfg(feature = "mysql")]
        (Begin::OwnWrite, AnyConnection::Mysql(mysql)) => {
            AnsiTransactionManager::begin_transaction_sql(
                mysql,
                "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN",
            )
        }
        _ => Manager::begin_transaction(conn),
    }
}

/// How many times the crate runs one of its own writes in all when the
/// database keeps breaking deadlocks by rolling it back.
const ATTEMPTS: u32 = 5;

/// [`write_transaction`] for the crate's own writes, which name their
/// whole result (`set` these links, insert these rows): when the database
/// rolled the transaction back to break a deadlock (InnoDB does under
/// concurrent writes to neighbouring index ranges) or a serialization
/// failure, it is run again after a short random wait ([`backoff`]), up
/// to five times in all. One that a MySQL server refused at `READ
/// COMMITTED` (it logs statements) is run again at once at the server's
/// level. Only an outermost transaction is retried: inside the caller's,
/// the error is theirs.
pub(crate) fn retry_write<T>(
    conn: &mut AnyConnection,
    mut f: impl FnMut(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    let outermost = !in_transaction(conn)?;
    // The pool marks a connection to a server that logs statements when
    // it opens it; a refusal below marks it too.
    let mut how = if instrument::refuses_read_committed(conn) {
        Begin::Write
    } else {
        Begin::OwnWrite
    };
    let mut attempt = 1;
    loop {
        let read_committed = matches!(how, Begin::OwnWrite) && conn.backend() == BackendKind::Mysql;
        match run(conn, how, &mut f) {
            Err(e) if outermost && attempt < ATTEMPTS && rolled_back(&e) => {
                attempt += 1;
                let wait = backoff(attempt);
                tracing::debug!(target: "orm::transaction", attempt, ?wait, "retrying a write rolled back by the database: {e}");
                std::thread::sleep(wait);
            }
            Err(e) if outermost && read_committed && refused_at_read_committed(&e) => {
                // Once: the next attempt begins at the server's level.
                how = Begin::Write;
                instrument::refuse_read_committed(conn);
                tracing::warn!(target: "orm::transaction", "the server logs statements (binlog_format = STATEMENT) and refused a write at READ COMMITTED; the ORM's writes on this connection now begin at the server's isolation level: {e}");
            }
            result => return result,
        }
    }
}

/// The wait before `attempt` (the second or a later one): a random time
/// under 2 ms, 4 ms, 8 ms, 16 ms. Transactions the database rolled back
/// together would collide again if they all came back at once (InnoDB's
/// gap locks are granted to every one of them, and each one's insert
/// then waits for the others'); spread out, the first to return commits
/// before the next one begins.
fn backoff(attempt: u32) -> Duration {
    let ceiling_us = 1000u64 << (attempt.clamp(2, ATTEMPTS) - 1);
    // A hasher with fresh random keys is random enough for a jitter.
    let random = RandomState::new().hash_one(attempt);
    Duration::from_micros(random % ceiling_us)
}

/// Whether MySQL refused a write because it logs statements and InnoDB
/// cannot log them at `READ COMMITTED` (error 1665, which diesel reports
/// by its message only).
fn refused_at_read_committed(e: &OrmError) -> bool {
    match e {
        OrmError::Database(diesel::result::Error::DatabaseError(_, info)) => {
            info.message().contains("BINLOG_FORMAT = STATEMENT")
        }
        _ => false,
    }
}

/// Whether the database rolled the transaction back for a deadlock or a
/// serialization failure (see [`instrument::rolled_back_by_server`]).
fn rolled_back(e: &OrmError) -> bool {
    matches!(e, OrmError::Database(e) if instrument::rolled_back_by_server(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlocks_and_serialization_failures_are_retried() {
        use diesel::result::DatabaseErrorKind::{SerializationFailure, UniqueViolation, Unknown};
        let error = |kind, message: &str| {
            OrmError::Database(diesel::result::Error::DatabaseError(
                kind,
                Box::new(message.to_owned()),
            ))
        };
        assert!(rolled_back(&error(
            SerializationFailure,
            "could not serialize access"
        )));
        // PostgreSQL's 40P01.
        assert!(rolled_back(&error(Unknown, "deadlock detected")));
        // MySQL's 1213 from batch_execute or COMMIT, and Galera's.
        assert!(rolled_back(&error(
            Unknown,
            "Deadlock found when trying to get lock; try restarting transaction"
        )));
        assert!(rolled_back(&error(
            Unknown,
            "WSREP detected deadlock/conflict and aborted the transaction. Try restarting the transaction"
        )));
        assert!(!rolled_back(&error(
            Unknown,
            "relation \"x\" does not exist"
        )));
        assert!(!rolled_back(&error(UniqueViolation, "duplicate key")));
    }

    #[test]
    fn backoff_doubles_its_ceiling_and_varies_under_it() {
        for (attempt, ceiling_ms) in [(2, 2), (3, 4), (4, 8), (5, 16)] {
            let waits: Vec<Duration> = (0..64).map(|_| backoff(attempt)).collect();
            assert!(waits.iter().all(|w| *w < Duration::from_millis(ceiling_ms)));
            // 64 draws under the ceiling are not all the same.
            assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
        }
    }
}
