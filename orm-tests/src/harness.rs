//! Runs one test body on SQLite, PostgreSQL and MariaDB, each in a fresh,
//! private database (a schema on PostgreSQL, a database on MariaDB), so
//! tests run in parallel without seeing each other's tables.
//!
//! Servers are found through `ORM_TEST_POSTGRES_URL` and `ORM_TEST_MYSQL_URL`
//! (defaults: the local services of the development machines). When a server
//! cannot be reached the test fails under `CI=true` and is skipped, with a
//! message, otherwise.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use orm_core::{AnyConnection, BackendKind, Db, OrmError};

/// The server URL used for PostgreSQL tests.
pub fn postgres_url() -> String {
    std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The server URL used for MySQL/MariaDB tests.
pub fn mysql_url() -> String {
    std::env::var("ORM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// A private database for one test; dropped (with its data) at the end.
pub struct TestDb {
    /// The handle tests use.
    pub db: Db,
    /// Its URL, to open another handle with other options (an in-memory
    /// SQLite URL opens another database).
    pub url: String,
    admin: Option<(Db, String)>,
}

impl TestDb {
    /// Queries an insert with an auto key costs: 1, or 2 on MySQL (the
    /// INSERT and `SELECT LAST_INSERT_ID()`).
    pub fn insert_cost(&self) -> usize {
        match self.db.backend() {
            BackendKind::Mysql => 2,
            BackendKind::Sqlite | BackendKind::Postgres => 1,
        }
    }

    /// The query a relation write adds to keep two or more cached rows of a
    /// model ordered by text in the database's collation order: one on
    /// PostgreSQL and MySQL, none on SQLite (byte order, as in Rust).
    pub fn collation_cost(&self) -> usize {
        match self.db.backend() {
            BackendKind::Sqlite => 0,
            BackendKind::Postgres | BackendKind::Mysql => 1,
        }
    }
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, drop_sql)) = &self.admin {
            if let Ok(mut conn) = admin.get() {
                let _ = conn.batch_execute(drop_sql);
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// The server's id of `conn` (PostgreSQL's backend pid, MySQL's
/// connection id), to kill it from another connection.
pub fn connection_id(conn: &mut AnyConnection) -> orm_core::Result<i64> {
    let sql = match conn.backend() {
        BackendKind::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT) AS id",
        _ => "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id",
    };
    let rows: Vec<Id> = diesel::sql_query(sql).load(conn)?;
    rows.first().map(|r| r.id).ok_or(OrmError::NotFound {
        model: "connection id",
    })
}

/// Kills the server connection `id` from `killer` (another connection to
/// the same server), as an administrator or a crash would, and waits until
/// it is gone.
pub fn kill_connection(killer: &mut AnyConnection, id: i64) -> orm_core::Result<()> {
    let backend = killer.backend();
    let (kill, alive) = match backend {
        BackendKind::Postgres => (
            format!("SELECT pg_terminate_backend({id})"),
            format!("SELECT CAST(COUNT(*) AS BIGINT) AS id FROM pg_stat_activity WHERE pid = {id}"),
        ),
        _ => (
            format!("KILL {id}"),
            format!("SELECT CAST(COUNT(*) AS SIGNED) AS id FROM information_schema.processlist WHERE id = {id}"),
        ),
    };
    killer.batch_execute(&kill)?;
    for _ in 0..100 {
        let rows: Vec<Id> = diesel::sql_query(&alive).load(killer)?;
        if rows.first().is_some_and(|r| r.id == 0) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(OrmError::InvalidQuery {
        model: "connection",
        reason: format!("{backend} connection {id} still runs after being killed"),
    })
}

/// A diesel instrumentation that kills its connection (through `kill`,
/// from another connection) when the `nth` statement containing `trigger`
/// is about to run: a fault in the middle of a write.
pub struct KillOn {
    trigger: &'static str,
    nth: usize,
    seen: usize,
    kill: Option<Box<dyn FnOnce() + Send>>,
}

impl KillOn {
    /// Kills with `kill` at the `nth` (from 1) statement containing `trigger`.
    pub fn new(trigger: &'static str, nth: usize, kill: impl FnOnce() + Send + 'static) -> Self {
        KillOn {
            trigger,
            nth,
            seen: 0,
            kill: Some(Box::new(kill)),
        }
    }

    /// Kills `victim` from a new connection of `db` at the `nth` statement
    /// containing `trigger`.
    pub fn connection(
        db: &Db,
        victim: i64,
        trigger: &'static str,
        nth: usize,
    ) -> orm_core::Result<Self> {
        let mut killer = db.get()?;
        Ok(KillOn::new(trigger, nth, move || {
            // A failed kill shows as the test's missing error.
            let _ = kill_connection(&mut killer, victim);
        }))
    }
}

impl diesel::connection::Instrumentation for KillOn {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
            if query.to_string().contains(self.trigger) {
                self.seen += 1;
                if self.seen == self.nth {
                    if let Some(kill) = self.kill.take() {
                        kill();
                    }
                }
            }
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "orm_t{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// Opens a fresh database on `backend`; `Err` when the server is unreachable.
pub fn open(backend: BackendKind) -> Result<TestDb, OrmError> {
    match backend {
        BackendKind::Sqlite => Ok(TestDb {
            db: Db::connect("sqlite::memory:")?,
            url: "sqlite::memory:".into(),
            admin: None,
        }),
        BackendKind::Postgres => {
            let base = postgres_url();
            let admin = Db::builder(&base).max_connections(1).build()?;
            let schema = unique_name();
            admin
                .get()?
                .batch_execute(&format!("CREATE SCHEMA {schema}"))?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            let db = Db::connect(&url)?;
            Ok(TestDb {
                db,
                url,
                admin: Some((admin, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))),
            })
        }
        BackendKind::Mysql => {
            let base = mysql_url();
            let admin = Db::builder(&base).max_connections(1).build()?;
            let name = unique_name();
            admin
                .get()?
                .batch_execute(&format!("CREATE DATABASE {name}"))?;
            let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
            let url = format!("{server}/{name}");
            let db = Db::connect(&url)?;
            Ok(TestDb {
                db,
                url,
                admin: Some((admin, format!("DROP DATABASE IF EXISTS {name}"))),
            })
        }
    }
}

/// Runs `body` on a fresh database of `backend`. An unreachable server fails
/// the test under `CI=true` and skips it otherwise.
pub fn run_on(backend: BackendKind, body: impl FnOnce(&TestDb) -> orm_core::Result<()>) {
    let db = match open(backend) {
        Ok(db) => db,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("{backend} is unreachable and CI=true, so this test fails: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {backend} is unreachable ({e}); start it or run under CI=true to fail instead");
            return;
        }
    };
    if let Err(e) = body(&db) {
        panic!("test failed on {backend}: {e}");
    }
}

/// Declares tests that run on every backend:
///
/// ```ignore
/// backend_tests! {
///     fn saves_a_row(db) {
///         let mut conn = db.get()?;
///         Ok(())
///     }
/// }
/// ```
///
/// expands to a module `saves_a_row` with the tests `sqlite`, `postgres` and
/// (with the `mysql` feature) `mysql`.
#[macro_export]
macro_rules! backend_tests {
    ($(fn $name:ident($db:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: &$crate::harness::TestDb) -> ::orm_core::Result<()> $body

            #[test]
            fn sqlite() {
                $crate::harness::run_on(::orm_core::BackendKind::Sqlite, body);
            }

            #[test]
            fn postgres() {
                $crate::harness::run_on(::orm_core::BackendKind::Postgres, body);
            }

            #[cfg(feature = "mysql")]
            #[test]
            fn mysql() {
                $crate::harness::run_on(::orm_core::BackendKind::Mysql, body);
            }
        }
    )*};
}
