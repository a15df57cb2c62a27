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
//! The typed code sees the same rows as the ORM:
//!
//! - SQLite (in memory): a separate `SqliteConnection::establish(":memory:")`
//!   filled by the same setup code (same DDL from
//!   `orm_core::schema::create_table_sql`, same inserts, so the same ids);
//! - PostgreSQL and MariaDB/MySQL (feature `mysql`, on by default): the
//!   `PgConnection` / `MysqlConnection` inside the ORM's pooled
//!   `AnyConnection`, the same server session the ORM uses. A second
//!   session would be fair in criterion's samples but not in the paired
//!   rounds, which switch variants every iteration: on the 2-core
//!   machine, the same hand-written loop read 2.4-2.5x slower on the
//!   pool's session than on a second one in alternated rounds, and within
//!   10 % when each ran alone (see `docs/benchmarks.md`, twelfth session).
//!   The pool's instrumentation stays on that connection: the typed code
//!   pays its one uncontended lock per statement too (about 0.1 % of a
//!   round trip).
//!
//! See `docs/benchmarks.md`, "Against typed diesel (issue 10)".

use diesel::{Connection, SqliteConnection};
use orm_core::{AnyConnection, BackendKind};
use orm_tests::harness::TestDb;

/// Where the typed baseline runs: on SQLite a connection of its own
/// (its own in-memory database); on a server, none (the typed connection
/// inside the ORM's `AnyConnection`, see [`on`](Self::on)).
pub struct TypedConn(Option<AnyConnection>);

impl TypedConn {
    /// No connection of its own: the typed code runs on the ORM's.
    pub fn shared() -> Self {
        TypedConn(None)
    }

    /// Its own connection, if it has one (SQLite).
    pub fn own(&mut self) -> Option<&mut AnyConnection> {
        self.0.as_mut()
    }

    /// The connection the typed code runs on, next to the ORM's `orm`:
    /// its own, or `orm` itself. [`on_typed!`] matches it to the concrete
    /// `SqliteConnection`, `PgConnection` or `MysqlConnection` inside.
    pub fn on<'c>(&'c mut self, orm: &'c mut AnyConnection) -> &'c mut AnyConnection {
        self.0.as_mut().unwrap_or(orm)
    }
}

/// Runs `$body` with `$c` bound to the concrete connection inside an
/// `AnyConnection` (`&mut SqliteConnection`, `&mut PgConnection` or
/// `&mut MysqlConnection`): the body is compiled once per backend, with no
/// dispatch inside it. Typed routines take the connection
/// [`TypedConn::on`] gives.
///
/// ```ignore
/// fn typed_count(conn: &mut AnyConnection) -> i64 {
///     on_typed!(conn, c => choice::table.count().get_result(c).expect("count"))
/// }
/// ```
#[macro_export]
macro_rules! on_typed {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            orm_core::AnyConnection::Sqlite($c) => $body,
            orm_core::AnyConnection::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            orm_core::AnyConnection::Mysql($c) => $body,
        }
    };
}

/// Where the typed code sees the same rows as `db` once `setup` has
/// filled `db`: on SQLite a fresh in-memory database that `setup` fills
/// the same way (on a `SqliteConnection` established directly, so without
/// the pool's instrumentation); on a server the ORM's own session
/// ([`TypedConn::shared`]; `setup` is not called).
///
/// Panics when the connection cannot be opened (benchmarks only).
pub fn typed_copy(db: &TestDb, setup: impl FnOnce(&mut AnyConnection)) -> TypedConn {
    match db.db.backend() {
        BackendKind::Sqlite => {
            let conn = SqliteConnection::establish(":memory:")
                .expect("open a typed in-memory SQLite connection");
            let mut any = AnyConnection::Sqlite(conn);
            setup(&mut any);
            TypedConn(Some(any))
        }
        BackendKind::Postgres | BackendKind::Mysql => TypedConn::shared(),
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
