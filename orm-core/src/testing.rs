//! Test helpers: count and record the statements a connection runs, and
//! assert how many a piece of code costs (Django's `assertNumQueries`).

use std::sync::{Arc, Mutex, PoisonError};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::Connection;

use crate::backend::{instrument, AnyConnection};

/// The statements a connection ran while a [`QueryLog`] was installed.
///
/// Transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`, savepoints) is recorded
/// in [`all_statements`](Self::all_statements) but is not a query: it is left
/// out of [`queries`](Self::queries) and [`count`](Self::count). A statement
/// is recorded when it finishes, failed or not; one whose values were
/// refused while binding (`OrmError::Value`) never left the process and is
/// not recorded.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use diesel::connection::SimpleConnection;
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// let ((), log) = orm_core::capture_queries(&mut conn, |c| {
///     c.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
/// });
/// assert_eq!(log.count(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedQueries {
    statements: Vec<String>,
}

impl CapturedQueries {
    /// Every statement, transaction control included, in order.
    pub fn all_statements(&self) -> &[String] {
        &self.statements
    }

    /// The statements that are queries (not transaction control), in order.
    pub fn queries(&self) -> Vec<&str> {
        self.statements
            .iter()
            .map(String::as_str)
            .filter(|s| !is_transaction_control(s))
            .collect()
    }

    /// How many queries ran (transaction control excluded).
    pub fn count(&self) -> usize {
        self.statements
            .iter()
            .filter(|s| !is_transaction_control(s))
            .count()
    }
}

/// True for BEGIN / START / COMMIT / END / ROLLBACK / SAVEPOINT / RELEASE
/// / SET TRANSACTION statements (transaction control, not queries), by
/// the statement's first word (a statement opening with a comment is a
/// query).
///
/// ```
/// assert!(orm_core::is_transaction_control("BEGIN"));
/// assert!(orm_core::is_transaction_control("ROLLBACK TO SAVEPOINT diesel_savepoint_1"));
/// // How the crate's own writes begin on MySQL.
/// assert!(orm_core::is_transaction_control(
///     "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN"
/// ));
/// assert!(!orm_core::is_transaction_control("SELECT 1"));
/// assert!(!orm_core::is_transaction_control("SET NAMES utf8mb4"));
/// assert!(!orm_core::is_transaction_control("/* begin */ SELECT 1"));
/// ```
pub fn is_transaction_control(sql: &str) -> bool {
    let mut words = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic());
    let first = words.next().unwrap_or("");
    let is = |kw: &str| first.eq_ignore_ascii_case(kw);
    let control = [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "START",
        "END",
    ];
    control.iter().any(|kw| is(kw))
        || (is("SET")
            && words
                .find(|w| !w.is_empty())
                .is_some_and(|w| w.eq_ignore_ascii_case("TRANSACTION")))
}

/// A diesel [`Instrumentation`] that records every statement into a shared
/// log. Clone it to keep a handle while the connection owns the other copy.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use diesel::connection::SimpleConnection;
/// use diesel::Connection;
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// let log = orm_core::QueryLog::default();
/// conn.set_instrumentation(log.clone());
/// conn.batch_execute("SELECT 1")?;
/// assert_eq!(log.snapshot().count(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct QueryLog {
    statements: Arc<Mutex<Vec<String>>>,
}

impl QueryLog {
    /// What was recorded so far.
    pub fn snapshot(&self) -> CapturedQueries {
        CapturedQueries {
            statements: self
                .statements
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Instrumentation for QueryLog {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let Some(sql) = instrument::executed_statement(&event) {
            self.statements
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sql);
        }
    }
}

/// Runs `f` on `conn` and returns its result with the statements it ran.
///
/// On a connection from a [`Db`](crate::Db) pool the statements are
/// recorded beside the connection's instrumentation, which stays as it is
/// (see [`DbBuilder::instrumentation`](crate::DbBuilder::instrumentation));
/// captures nest. On any other connection (or one whose instrumentation
/// was replaced with `set_instrumentation`), the instrumentation is
/// replaced for the call and reset to diesel's default afterwards, also
/// when `f` panics.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use diesel::connection::SimpleConnection;
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// let (_, log) = orm_core::capture_queries(&mut conn, |c| c.batch_execute("SELECT 1"));
/// assert_eq!(log.queries(), vec!["SELECT 1"]);
/// # Ok(()) }
/// ```
pub fn capture_queries<R>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> R,
) -> (R, CapturedQueries) {
    let log = QueryLog::default();
    if let Some(capture) = instrument::capture(conn, Arc::clone(&log.statements)) {
        // The guard stops the capture when it drops, on unwinding too.
        let result = f(conn);
        drop(capture);
        return (result, log.snapshot());
    }
    conn.set_instrumentation(log.clone());
    // Restore the connection even when `f` panics, so a pooled connection
    // does not go back to the pool still recording.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    conn.set_instrumentation(diesel::connection::get_default_instrumentation());
    match result {
        Ok(result) => (result, log.snapshot()),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f` and panics, listing the statements, unless it ran exactly
/// `expected` queries (transaction control does not count).
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// use diesel::connection::SimpleConnection;
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::assert_num_queries(&mut conn, 2, |c| {
///     c.batch_execute("SELECT 1").unwrap();
///     c.batch_execute("SELECT 2").unwrap();
/// });
/// # Ok(()) }
/// ```
#[track_caller]
pub fn assert_num_queries<R>(
    conn: &mut AnyConnection,
    expected: usize,
    f: impl FnOnce(&mut AnyConnection) -> R,
) -> R {
    let (result, log) = capture_queries(conn, f);
    if log.count() != expected {
        let listing: Vec<String> = log
            .queries()
            .iter()
            .enumerate()
            .map(|(i, q)| format!("  {}. {q}", i + 1))
            .collect();
        panic!(
            "expected {expected} queries, {} ran:\n{}",
            log.count(),
            listing.join("\n")
        );
    }
    result
}
