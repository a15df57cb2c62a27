//! The instrumentation every pooled connection carries: it forwards
//! diesel's events to the instrumentation the app configured
//! ([`DbBuilder::instrumentation`](super::DbBuilder::instrumentation)) and
//! to the query captures active on the connection, so a capture never
//! replaces what the app installed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};
use diesel::Connection;

use super::levels::{Level, Levels};
use super::{AnyConnection, BackendKind};

/// Where a capture records the statements: their SQL, in order.
pub(crate) type Statements = Arc<Mutex<Vec<String>>>;

/// The SQL of a statement, as a capture records it. A statement whose
/// rendering fails (diesel then fails it too) is recorded by that fact,
/// not by a panic in `to_string`.
pub(crate) fn statement_text(query: &dyn std::fmt::Display) -> String {
    use std::fmt::Write;
    let mut sql = String::new();
    if write!(sql, "{query}").is_err() {
        sql = "/* a statement that could not be rendered */".into();
    }
    sql
}

/// The SQL of the statement `event` finishes, as a capture records it:
/// every statement the server ran, successful or not, but none refused
/// while binding its values (`OrmError::Value`), which never left the
/// process. (Statements are recorded when they finish because PostgreSQL
/// and MySQL report a bind refusal as a started statement only.)
pub(crate) fn executed_statement(event: &InstrumentationEvent<'_>) -> Option<String> {
    match event {
        InstrumentationEvent::FinishQuery { query, error, .. } => {
            if matches!(error, Some(Error::SerializationError(_))) {
                return None;
            }
            Some(statement_text(query))
        }
        _ => None,
    }
}

/// Whether the server rolled the transaction back for a deadlock or a
/// serialization failure: diesel's `SerializationFailure` (PostgreSQL
/// 40001; MySQL 1213 from a prepared statement), or the same known by its
/// message where diesel reports `Unknown`: PostgreSQL's 40P01, MySQL's
/// 1213 from `batch_execute` or `COMMIT`, and a Galera cluster's
/// certification failure (1213 too). The messages are the servers'
/// English ones (`lc_messages` set to another language hides them).
pub(crate) fn rolled_back_by_server(error: &Error) -> bool {
    match error {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.starts_with("deadlock detected")
                || message.starts_with("Deadlock found")
                || message.contains("WSREP detected deadlock/conflict")
        }
        _ => false,
    }
}

/// What the pool's instrumentation knows of one connection.
#[derive(Default)]
struct Shared {
    /// The captures active on it (innermost last).
    captures: Mutex<Vec<Statements>>,
    /// Whether a statement failed since the pool last looked: the
    /// connection may have died (see [`take_failure`]).
    failed: AtomicBool,
    /// Its transaction and savepoints (see [`levels`](super::levels)).
    levels: Mutex<Levels>,
    /// Whether its server refuses writes at `READ COMMITTED` (MySQL
    /// logging statements; see [`transaction`](super::transaction)).
    no_read_committed: AtomicBool,
}

/// Makes an app's instrumentation for each new connection.
pub(crate) type InstrumentationFactory = Arc<dyn Fn() -> Box<dyn Instrumentation> + Send + Sync>;

/// The shared state of `conn`, if the pool opened it: diesel hands out
/// the instrumentation as `&mut dyn Instrumentation`, which downcasts to
/// the pool's (no lookup, no lock).
fn shared(conn: &mut AnyConnection) -> Option<&Arc<Shared>> {
    conn.instrumentation()
        .downcast_ref::<PoolInstrumentation>()
        .map(|pool| &pool.shared)
}

struct PoolInstrumentation {
    app: Option<Box<dyn Instrumentation>>,
    shared: Arc<Shared>,
    backend: BackendKind,
}

impl Instrumentation for PoolInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery {
            error: Some(error), ..
        } = &event
        {
            self.shared.failed.store(true, Ordering::Relaxed);
            self.statement_failed(error);
        }
        match &event {
            InstrumentationEvent::BeginTransaction { depth, .. } => {
                self.levels().begin(depth.get() as usize)
            }
            InstrumentationEvent::CommitTransaction { depth, .. } => {
                self.levels().commit_begun(depth.get() as usize)
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.levels().statement_finished(error.is_none())
            }
            InstrumentationEvent::RollbackTransaction { depth, .. } => {
                self.levels().rollback(depth.get() as usize)
            }
            _ => {}
        }
        if let InstrumentationEvent::FinishQuery { .. } = &event {
            self.record(&event);
        }
        if let Some(app) = &mut self.app {
            app.on_connection_event(event);
        }
    }
}

impl PoolInstrumentation {
    /// Records the statement `event` finishes in every active capture
    /// (nested ones each see theirs); rendered only when there is one.
    fn record(&self, event: &InstrumentationEvent<'_>) {
        let captures = self
            .shared
            .captures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if captures.is_empty() {
            return;
        }
        let Some(sql) = executed_statement(event) else {
            return;
        };
        for capture in captures.iter() {
            capture
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sql.clone());
        }
    }

    /// Marks what the server aborted when a statement failed: PostgreSQL
    /// aborts the innermost level on any error it returns; MySQL rolls
    /// the whole transaction back on a deadlock (and goes on after other
    /// errors). A value refused while binding, or a row that did not
    /// decode, reached no server: nothing is aborted.
    fn statement_failed(&self, error: &diesel::result::Error) {
        if !matches!(error, Error::DatabaseError(..)) {
            return;
        }
        match self.backend {
            BackendKind::Postgres => self.levels().statement_failed(),
            BackendKind::Mysql if rolled_back_by_server(error) => {
                self.levels().transaction_aborted()
            }
            _ => {}
        }
    }

    fn levels(&self) -> std::sync::MutexGuard<'_, Levels> {
        self.shared
            .levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PoolInstrumentation {
    fn drop(&mut self) {
        // The connection closes: what its open transaction wrote is gone.
        self.levels().abandon();
    }
}

/// Installs the pool's instrumentation on a new connection.
pub(crate) fn install(conn: &mut AnyConnection, app: Option<&InstrumentationFactory>) {
    let backend = conn.backend();
    conn.set_instrumentation(PoolInstrumentation {
        app: app.map(|make| make()),
        shared: Arc::default(),
        backend,
    });
}

/// Installs the pool's instrumentation again on a pooled connection whose
/// borrower replaced it (`conn.set_instrumentation(..)`).
pub(crate) fn restore(conn: &mut AnyConnection, app: Option<&InstrumentationFactory>) {
    if shared(conn).is_none() {
        install(conn, app);
    }
}

/// Whether the server of `conn` refuses writes at `READ COMMITTED`
/// (marked with [`refuse_read_committed`] when the pool opened it or a
/// write was refused; a connection the pool did not open is never marked).
pub(crate) fn refuses_read_committed(conn: &mut AnyConnection) -> bool {
    shared(conn).is_some_and(|s| s.no_read_committed.load(Ordering::Relaxed))
}

/// Marks the server of `conn` as refusing writes at `READ COMMITTED`.
pub(crate) fn refuse_read_committed(conn: &mut AnyConnection) {
    if let Some(shared) = shared(conn) {
        shared.no_read_committed.store(true, Ordering::Relaxed);
    }
}

/// Whether a statement on `conn` failed since the last call (and clears
/// the mark): the pool then checks that the connection still works.
pub(crate) fn take_failure(conn: &mut AnyConnection) -> bool {
    shared(conn).is_some_and(|s| s.failed.swap(false, Ordering::Relaxed))
}

/// An active capture; dropping it stops recording.
pub(crate) struct Capture(Arc<Shared>);

impl Drop for Capture {
    fn drop(&mut self) {
        self.0
            .captures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
    }
}

/// Records `conn`'s statements into `log` until the returned guard drops,
/// keeping the connection's own instrumentation; `None` for a connection
/// the pool did not open (or whose instrumentation was replaced).
pub(crate) fn capture(conn: &mut AnyConnection, log: Statements) -> Option<Capture> {
    let shared = Arc::clone(shared(conn)?);
    shared
        .captures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(log);
    Some(Capture(shared))
}

/// The transaction level at `depth` (1: the transaction) on `conn`;
/// `None` for a connection the pool did not open.
pub(crate) fn level(conn: &mut AnyConnection, depth: usize) -> Option<Arc<Level>> {
    shared(conn)?
        .levels
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .at(depth)
}

#[cfg(test)]
mod tests {
    use diesel::connection::{InstrumentationEvent, SimpleConnection};
    use diesel::Connection;

    use super::{capture, shared, take_failure, Statements};
    use crate::Db;

    #[test]
    fn a_pooled_connection_reaches_its_state_until_the_instrumentation_is_replaced(
    ) -> crate::Result<()> {
        let db = Db::connect("sqlite::memory:")?;
        let mut conn = db.get()?;
        assert!(shared(&mut conn).is_some(), "the pool's instrumentation");
        let log = Statements::default();
        let guard = capture(&mut conn, log.clone());
        assert!(guard.is_some());
        conn.batch_execute("SELECT 1")?;
        drop(guard);
        assert_eq!(*log.lock().unwrap_or_else(|e| e.into_inner()), ["SELECT 1"]);
        assert!(conn.batch_execute("SELECT nothing FROM nowhere").is_err());
        assert!(take_failure(&mut conn), "a failed statement is seen");
        assert!(!take_failure(&mut conn), "and cleared");

        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        assert!(shared(&mut conn).is_none(), "replaced: no pool state");
        assert!(capture(&mut conn, Statements::default()).is_none());
        Ok(())
    }

    #[test]
    fn a_replaced_instrumentation_lasts_until_the_connection_returns() -> crate::Result<()> {
        let db = Db::builder("sqlite::memory:").max_connections(1).build()?;
        let mut conn = db.get()?;
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        drop(conn);
        let mut again = db.get()?;
        assert!(shared(&mut again).is_some(), "the pool's, back");
        Ok(())
    }
}
