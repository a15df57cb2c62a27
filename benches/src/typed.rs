//! The baseline a Rust user would write instead of the ORM: hand-written
//! diesel on a typed connection (`diesel::SqliteConnection`,
//! `diesel::PgConnection`, `diesel::MysqlConnection`), no `AnyConnection`,
//! no MultiConnection dispatch.
//!
//! The benchmarks keep their hand-written diesel on the ORM's
//! `AnyConnection` (variant `diesel`) and add the same code on a
//! [`TypedConn`] (variant `typed`, the headline baseline). Each hand-written
//! routine is written once, as a macro over a connection expression, and
//! expanded for `&mut AnyConnection` and, through [`on_typed!`], for each
//! concrete connection, so both run the same statements; the
//! `AnyConnection` expansion is the one whose queries the benchmarks count
//! (`capture_queries`), before timing.
//!
//! The typed connection sees the same rows as the ORM's:
//!
//! - SQLite (in memory): a separate `SqliteConnection::establish(":memory:")`
//!   filled by the same setup code (same DDL from
//!   `orm_core::schema::create_table_sql`, same inserts, so the same ids);
//! - PostgreSQL: a `PgConnection` on the TestDb's URL, whose `options`
//!   parameter sets the search_path to the private schema the ORM filled;
//! - MariaDB/MySQL (feature `mysql`, on by default): a `MysqlConnection` on
//!   the TestDb's URL, the private database the ORM filled.
//!
//! See `docs/benchmarks.md`, "Against typed diesel (issue 10)".

#[cfg(feature = "mysql")]
use diesel::MysqlConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use orm_core::{AnyConnection, BackendKind};
use orm_tests::harness::TestDb;

/// A typed diesel connection, one variant per backend the benchmarks run.
/// Routines match on it once per iteration ([`on_typed!`]); everything
/// inside runs on the concrete connection.
pub enum TypedConn {
    /// `diesel::SqliteConnection`, its own in-memory database.
    Sqlite(SqliteConnection),
    /// `diesel::PgConnection` on the benchmark's private schema.
    Postgres(PgConnection),
    /// `diesel::MysqlConnection` on the benchmark's private database.
    #[cfg(feature = "mysql")]
    Mysql(MysqlConnection),
}

impl TypedConn {
    /// The backend this connection talks to.
    pub fn backend(&self) -> BackendKind {
        match self {
            TypedConn::Sqlite(_) => BackendKind::Sqlite,
            TypedConn::Postgres(_) => BackendKind::Postgres,
            #[cfg(feature = "mysql")]
            TypedConn::Mysql(_) => BackendKind::Mysql,
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection inside a
/// [`TypedConn`] (`&mut SqliteConnection`, `&mut PgConnection` or
/// `&mut MysqlConnection`): the body is compiled once per backend, with no
/// dispatch inside it.
///
/// ```ignore
/// fn typed_count(conn: &mut TypedConn) -> i64 {
///     on_typed!(conn, c => choice::table.count().get_result(c).expect("count"))
/// }
/// ```
#[macro_export]
macro_rules! on_typed {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::typed::TypedConn::Sqlite($c) => $body,
            $crate::typed::TypedConn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::typed::TypedConn::Mysql($c) => $body,
        }
    };
}

/// A typed connection that sees the same rows as `db` once `setup` has
/// filled `db`: on SQLite a fresh in-memory database that `setup` fills
/// the same way (it is called with the typed connection wrapped in an
/// `AnyConnection`, then unwrapped); on PostgreSQL a `PgConnection` on the
/// same private schema, on MariaDB/MySQL a `MysqlConnection` on the same
/// private database (`setup` is not called).
///
/// Panics when the connection cannot be opened (benchmarks only).
pub fn typed_copy(db: &TestDb, setup: impl FnOnce(&mut AnyConnection)) -> TypedConn {
    match db.db.backend() {
        BackendKind::Sqlite => {
            let conn = SqliteConnection::establish(":memory:")
                .expect("open a typed in-memory SQLite connection");
            let mut any = AnyConnection::Sqlite(conn);
            setup(&mut any);
            match any {
                AnyConnection::Sqlite(conn) => TypedConn::Sqlite(conn),
                #[allow(unreachable_patterns)]
                _ => unreachable!("built as AnyConnection::Sqlite above"),
            }
        }
        BackendKind::Postgres => TypedConn::Postgres(
            PgConnection::establish(&db.url)
                .expect("open a typed PgConnection on the private schema"),
        ),
        #[cfg(feature = "mysql")]
        BackendKind::Mysql => TypedConn::Mysql(
            MysqlConnection::establish(&db.url)
                .expect("open a typed MysqlConnection on the private database"),
        ),
        #[cfg(not(feature = "mysql"))]
        BackendKind::Mysql => panic!("build the benchmarks with feature `mysql` for MariaDB"),
    }
}

/// Runs `body` on a fresh private database for every backend and size, as
/// [`crate::fixture::each_data_set`] does, after `setup(conn, n)` filled it,
/// with a typed connection on the same rows ([`typed_copy`]; on SQLite
/// `setup` runs a second time, on the typed connection's own database).
/// The typed connection is closed before the private database is dropped.
pub fn each_typed_data_set(
    backends: &[BackendKind],
    sizes: &[usize],
    setup: impl Fn(&mut AnyConnection, usize),
    mut body: impl FnMut(&mut AnyConnection, &mut TypedConn, BackendKind, usize),
) {
    for &backend in backends {
        for &n in sizes {
            let Some(db) = crate::fixture::open(backend) else {
                break;
            };
            let mut conn = db.get().expect("take a connection from the pool");
            setup(&mut conn, n);
            let mut typed = typed_copy(&db, |c| setup(c, n));
            body(&mut conn, &mut typed, backend, n);
            drop(typed);
            drop(conn);
            // `db` is dropped last: its drop removes the schema.
        }
    }
}
