//! The pool: connections opened from a URL, handed out and taken back.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::Instrumentation;
#[cfg(feature = "sqlite")]
use diesel::connection::SimpleConnection;
use diesel::Connection;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::connect;
use super::instrument::{self, InstrumentationFactory};
use super::url::redact;
use super::{AnyConnection, BackendKind, DatabaseUrl};
use crate::error::{OrmError, Result};

/// Opens connections for the pool. In-memory SQLite URLs become a named
/// `memdb` database, so every connection of a pool sees the same data and
/// a writer and readers wait on each other (busy timeout) instead of
/// failing as a shared-cache database would.
pub struct ConnectionManager {
    url: DatabaseUrl,
    sqlite_path: Option<String>,
    options: Options,
    /// Why the last connection attempt failed (`None` once one succeeds):
    /// a checkout that timed out then reports it, not a full pool.
    last_failure: LastFailure,
}

/// Why the last connection attempt failed, shared by the pool's manager
/// and the [`Db`] that reports it.
type LastFailure = Arc<Mutex<Option<String>>>;

/// What the builder set for every connection.
#[derive(Clone)]
struct Options {
    /// Bounds waiting for a free connection and connecting.
    timeout: Duration,
    /// Check a connection before handing it out.
    health_check: bool,
    /// Put SQLite database files in WAL mode.
    sqlite_wal: bool,
    instrumentation: Option<InstrumentationFactory>,
}

impl fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

static MEMORY_DB_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ConnectionManager {
    fn new(url: DatabaseUrl, options: Options) -> Self {
        let sqlite_path = match &url {
            DatabaseUrl::SqliteMemory => Some(format!(
                "file:/orm-memory-{}-{}?vfs=memdb",
                std::process::id(),
                MEMORY_DB_COUNTER.fetch_add(1, Ordering::Relaxed)
            )),
            DatabaseUrl::SqliteFile(path) => Some(path.clone()),
            _ => None,
        };
        ConnectionManager {
            url,
            sqlite_path,
            options,
            last_failure: LastFailure::default(),
        }
    }

    fn establish(&self) -> Result<AnyConnection> {
        let backend = self.url.backend();
        let failed = |cause: diesel::ConnectionError| OrmError::Connection {
            backend: backend.name(),
            cause: cause.to_string(),
        };
        let timeout = self.options.timeout;
        // The connection, and whether its server logs statements (MySQL:
        // the crate's own writes then begin at the server's level).
        let (conn, logs_statements) = match (&self.url, &self.sqlite_path) {
            #[cfg(feature = "sqlite")]
            (url, Some(path)) => {
                let mut conn = diesel::SqliteConnection::establish(path).map_err(failed)?;
                // The busy timeout first: switching to WAL waits for the lock.
                let mut setup = format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                    timeout.as_millis().max(1)
                );
                if self.options.sqlite_wal && matches!(url, DatabaseUrl::SqliteFile(_)) {
                    setup.push_str(" PRAGMA journal_mode = WAL;");
                }
                conn.batch_execute(&setup)
                    .map_err(|e| OrmError::Connection {
                        backend: backend.name(),
                        cause: e.to_string(),
                    })?;
                (AnyConnection::Sqlite(conn), false)
            }
            #[cfg(feature = "postgres")]
            (DatabaseUrl::Postgres(url), None) => (
                AnyConnection::Postgres(
                    diesel::PgConnection::establish(&connect::postgres_url(url, timeout))
                        .map_err(failed)?,
                ),
                false,
            ),
            #[cfg(feature = "mysql")]
            (DatabaseUrl::Mysql(url), None) => {
                connect::probe_mysql(url, timeout).map_err(|cause| OrmError::Connection {
                    backend: backend.name(),
                    cause,
                })?;
                let mut mysql = diesel::MysqlConnection::establish(url).map_err(failed)?;
                let logs =
                    connect::logs_statements(&mut mysql).map_err(|e| OrmError::Connection {
                        backend: backend.name(),
                        cause: e.to_string(),
                    })?;
                (AnyConnection::Mysql(mysql), logs)
            }
            _ => {
                return Err(OrmError::InvalidUrl {
                    url: format!("{:?}", self.url),
                    reason: "this backend is not compiled in".into(),
                })
            }
        };
        let mut conn = conn;
        instrument::install(&mut conn, self.options.instrumentation.as_ref());
        if logs_statements {
            instrument::refuse_read_committed(&mut conn);
        }
        Ok(conn)
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = OrmError;

    fn connect(&self) -> Result<AnyConnection> {
        let result = self.establish();
        let failure = match &result {
            Ok(_) => None,
            Err(OrmError::Connection { cause, .. }) => Some(cause.clone()),
            Err(other) => Some(other.to_string()),
        };
        *self
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = failure;
        result
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<()> {
        diesel::r2d2::R2D2Connection::ping(conn).map_err(OrmError::from)
    }

    /// Run when a connection comes back: after a failed statement it may
    /// be dead (killed by the server, network gone), so it is pinged then,
    /// and dropped if it does not answer. An instrumentation the borrower
    /// installed in place of the pool's is replaced by the pool's again,
    /// so the next borrower gets its transaction bookkeeping.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        instrument::restore(conn, self.options.instrumentation.as_ref());
        diesel::r2d2::R2D2Connection::is_broken(conn)
            || (instrument::take_failure(conn) && diesel::r2d2::R2D2Connection::ping(conn).is_err())
    }
}

/// A pooled connection; it dereferences to [`AnyConnection`].
pub type Conn = r2d2::PooledConnection<ConnectionManager>;

/// A database handle: a pool of connections to one database.
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// let db = orm_core::Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// use diesel::connection::SimpleConnection;
/// conn.batch_execute("CREATE TABLE t (x INTEGER)")?;
/// // Another connection of the same pool sees the same in-memory database.
/// db.get()?.batch_execute("INSERT INTO t VALUES (1)")?;
/// # Ok(()) }
/// ```
pub struct Db {
    pool: r2d2::Pool<ConnectionManager>,
    backend: BackendKind,
    last_failure: LastFailure,
    /// Keeps an in-memory SQLite database alive while the handle lives.
    _memory_keeper: Option<Mutex<AnyConnection>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("state", &self.pool.state())
            .finish()
    }
}

/// Options for [`Db`]; start with [`Db::builder`].
///
/// ```
/// # fn main() -> orm_core::Result<()> {
/// let db = orm_core::Db::builder("sqlite::memory:").max_connections(4).build()?;
/// assert_eq!(db.max_connections(), 4);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DbBuilder {
    url: String,
    max_connections: u32,
    options: Options,
}

/// Shows the URL with its password redacted.
impl fmt::Debug for DbBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbBuilder")
            .field("url", &redact(&self.url))
            .field("max_connections", &self.max_connections)
            .field("timeout", &self.options.timeout)
            .field("health_check", &self.options.health_check)
            .field("sqlite_wal", &self.options.sqlite_wal)
            .field("instrumentation", &self.options.instrumentation.is_some())
            .finish()
    }
}

impl DbBuilder {
    /// The most connections the pool opens (default 8).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long [`Db::get`] waits for a free connection, and how long
    /// opening one may take (default 30 s, at least 1 ms, at most
    /// `i32::MAX` ms, about 24 days, SQLite's longest busy timeout).
    /// PostgreSQL gets it as libpq's `connect_timeout` (whole seconds, at
    /// least 2) and `tcp_user_timeout` (at least 10 s: how long a
    /// statement's bytes may go unacknowledged by a vanished server)
    /// unless the URL sets them; MySQL/MariaDB waits that long for the
    /// server's greeting (a TCP probe, as diesel's MySQL URL has no such
    /// option); SQLite uses it as the busy timeout, how long a statement
    /// waits for a lock.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let builder = orm_core::Db::builder("sqlite::memory:").timeout(Duration::from_secs(2));
    /// assert!(builder.build().is_ok());
    /// // At least 1 ms.
    /// assert!(orm_core::Db::builder("sqlite::memory:").timeout(Duration::ZERO).build().is_ok());
    /// // Forever is about 24 days.
    /// let db = orm_core::Db::builder("sqlite::memory:").timeout(Duration::MAX).build()?;
    /// assert!(db.get().is_ok());
    /// # Ok::<(), orm_core::OrmError>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        // r2d2 needs a positive wait (zero means "do not wait"), and adds
        // it to the current instant (`Duration::MAX` would overflow).
        self.options.timeout = timeout.clamp(
            Duration::from_millis(1),
            Duration::from_millis(i32::MAX as u64),
        );
        self
    }

    /// Whether a connection is checked (a `SELECT 1` round trip) each time
    /// the pool hands it out (default on), so one the server killed while
    /// it sat idle is replaced instead of failing the caller's first
    /// statement. Off, a connection is only checked when it comes back
    /// after a failed statement, and dropped if it is dead.
    ///
    /// ```
    /// let db = orm_core::Db::builder("sqlite::memory:").health_check(false).build();
    /// assert!(db.is_ok());
    /// ```
    pub fn health_check(mut self, on: bool) -> Self {
        self.options.health_check = on;
        self
    }

    /// Whether SQLite database files are put in WAL mode (default on):
    /// readers then never block the writer nor it them, which a pool of
    /// connections needs. WAL keeps two files beside the database
    /// (`-wal`, `-shm`) and does not work over a network file system;
    /// turn it off there. The mode is stored in the file, so turning it
    /// off keeps a file already in WAL mode in it (run `PRAGMA
    /// journal_mode = DELETE` once to leave). In-memory databases ignore it.
    ///
    /// ```
    /// let db = orm_core::Db::builder("sqlite::memory:").sqlite_wal(false).build();
    /// assert!(db.is_ok());
    /// ```
    pub fn sqlite_wal(mut self, on: bool) -> Self {
        self.options.sqlite_wal = on;
        self
    }

    /// Gives every connection of the pool the diesel instrumentation
    /// `make` returns (logging, metrics). [`capture_queries`](crate::capture_queries)
    /// records beside it and leaves it in place. (Installing one with
    /// `conn.set_instrumentation` instead replaces the pool's own, so
    /// captures on that connection replace it too.) It sees every
    /// statement, the health check's `SELECT 1` on checkout included.
    ///
    /// ```
    /// # fn main() -> orm_core::Result<()> {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use diesel::connection::{InstrumentationEvent, SimpleConnection};
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// let db = orm_core::Db::builder("sqlite::memory:")
    ///     .instrumentation(move || {
    ///         let counter = Arc::clone(&counter);
    ///         Box::new(move |event: InstrumentationEvent<'_>| {
    ///             if matches!(event, InstrumentationEvent::StartQuery { .. }) {
    ///                 counter.fetch_add(1, Ordering::Relaxed);
    ///             }
    ///         })
    ///     })
    ///     .build()?;
    /// let mut conn = db.get()?; // the health check: 1 statement
    /// let (_, log) = orm_core::capture_queries(&mut conn, |c| c.batch_execute("SELECT 2"));
    /// conn.batch_execute("SELECT 3")?;
    /// assert_eq!(log.count(), 1);
    /// assert_eq!(seen.load(Ordering::Relaxed), 3); // still installed after the capture
    /// # Ok(()) }
    /// ```
    pub fn instrumentation(
        mut self,
        make: impl Fn() -> Box<dyn Instrumentation> + Send + Sync + 'static,
    ) -> Self {
        self.options.instrumentation = Some(Arc::new(make));
        self
    }

    /// Parses the URL, opens a first connection (so a bad URL or an
    /// unreachable server is reported now, with its cause) and builds the pool.
    pub fn build(self) -> Result<Db> {
        let url = DatabaseUrl::parse(&self.url)?;
        let backend = url.backend();
        let options = self.options;
        let manager = ConnectionManager::new(url, options.clone());
        let last_failure = Arc::clone(&manager.last_failure);
        let first = manager.establish()?;
        let memory = matches!(manager.url, DatabaseUrl::SqliteMemory);
        let pool = r2d2::Pool::builder()
            .max_size(self.max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.timeout)
            .test_on_check_out(options.health_check)
            .build_unchecked(manager);
        let keeper = if memory {
            Some(Mutex::new(first))
        } else {
            drop(first);
            None
        };
        Ok(Db {
            pool,
            backend,
            last_failure,
            _memory_keeper: keeper,
        })
    }
}

impl Db {
    /// Connects to `url` with default pool options.
    ///
    /// ```
    /// let err = orm_core::Db::connect("postgres://nobody@127.0.0.1:1/none").unwrap_err();
    /// assert!(matches!(err, orm_core::OrmError::Connection { backend: "PostgreSQL", .. }));
    /// ```
    pub fn connect(url: &str) -> Result<Db> {
        Db::builder(url).build()
    }

    /// Starts configuring a handle for `url`.
    pub fn builder(url: &str) -> DbBuilder {
        DbBuilder {
            url: url.to_owned(),
            max_connections: 8,
            options: Options {
                timeout: Duration::from_secs(30),
                health_check: true,
                sqlite_wal: true,
                instrumentation: None,
            },
        }
    }

    /// Takes a connection from the pool; it goes back when dropped.
    ///
    /// Waits up to the builder's `timeout`. When no connection could be
    /// opened in that time (the server went away, a password changed),
    /// the error is [`OrmError::Connection`] with the driver's cause;
    /// when every connection stayed in use, [`OrmError::Pool`].
    pub fn get(&self) -> Result<Conn> {
        self.pool.get().map_err(|timeout| {
            let failure = self
                .last_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            match failure {
                Some(cause) => OrmError::Connection {
                    backend: self.backend.name(),
                    cause,
                },
                None => OrmError::Pool(timeout),
            }
        })
    }

    /// The backend of this database.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The pool's size limit.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;

    #[cfg(feature = "sqlite")]
    #[test]
    fn memory_pool_is_one_database() {
        let db = Db::connect("sqlite::memory:").unwrap();
        db.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let mut other = db.get().unwrap();
        let mut third = db.get().unwrap();
        other.batch_execute("INSERT INTO t VALUES (1)").unwrap();
        third.batch_execute("INSERT INTO t VALUES (2)").unwrap();
        let second = Db::connect("sqlite::memory:").unwrap();
        // A second handle gets its own database.
        assert!(second
            .get()
            .unwrap()
            .batch_execute("SELECT * FROM t")
            .is_err());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_checkout_that_cannot_connect_says_why_and_a_full_pool_says_so() {
        let dir = std::env::temp_dir().join(format!("orm-gone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("app.db").display());
        let db = || {
            Db::builder(&url)
                .max_connections(1)
                .timeout(Duration::from_millis(200))
                .build()
                .unwrap()
        };
        let full = db();
        let held = full.get().unwrap();
        assert!(matches!(full.get(), Err(OrmError::Pool(_))));
        drop(held);
        // No connection is open, and the database's folder is gone: none
        // can be opened.
        let gone = db();
        std::fs::remove_dir_all(&dir).unwrap();
        match gone.get() {
            Err(OrmError::Connection { backend, cause }) => {
                assert_eq!(backend, "SQLite");
                assert!(cause.to_lowercase().contains("unable to open"), "{cause}");
            }
            Err(other) => panic!("expected Connection, got {other}"),
            Ok(_) => panic!("connected to a removed folder"),
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn unreachable_server_is_a_typed_error() {
        let err = Db::connect("postgres://postgres@127.0.0.1:1/test").unwrap_err();
        match err {
            OrmError::Connection { backend, cause } => {
                assert_eq!(backend, "PostgreSQL");
                assert!(!cause.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
