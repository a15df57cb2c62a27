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
use orm_core::{BackendKind, Db, OrmError};

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
            let db = Db::connect(&format!("{base}{sep}options=-csearch_path%3D{schema}"))?;
            Ok(TestDb {
                db,
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
            let db = Db::connect(&format!("{server}/{name}"))?;
            Ok(TestDb {
                db,
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
