//! Migrations compiled into the program, one folder per backend.

use diesel_migrations::EmbeddedMigrations;
use orm_core::{AnyConnection, BackendKind};

use crate::error::Result;
use crate::run::{migrate_source, Steps, Target};

/// An app's migrations for each backend, embedded with
/// [`embed_migrations!`](crate::embed_migrations) (paths are relative to
/// the crate's `Cargo.toml`), run at start-up with [`Embedded::run`].
///
/// ```no_run
/// use orm_migrations::{embed_migrations, Embedded};
///
/// // Paths from the crate's Cargo.toml: `migrations/sqlite` in an app;
/// // here, the polls app of this repository.
/// const MIGRATIONS: Embedded = Embedded {
///     sqlite: embed_migrations!("../orm-tests/migrations/sqlite"),
///     postgres: embed_migrations!("../orm-tests/migrations/postgres"),
///     mysql: embed_migrations!("../orm-tests/migrations/mysql"),
/// };
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = orm_core::Db::connect("sqlite://app.db")?;
/// let mut conn = db.get()?;
/// MIGRATIONS.run(&mut conn)?;
/// # Ok(()) }
/// ```
pub struct Embedded {
    /// `migrations/sqlite`
    pub sqlite: EmbeddedMigrations,
    /// `migrations/postgres`
    pub postgres: EmbeddedMigrations,
    /// `migrations/mysql`
    pub mysql: EmbeddedMigrations,
}

impl Embedded {
    /// The migrations of `backend`.
    pub fn for_backend(&self, backend: BackendKind) -> &EmbeddedMigrations {
        match backend {
            BackendKind::Sqlite => &self.sqlite,
            BackendKind::Postgres => &self.postgres,
            BackendKind::Mysql => &self.mysql,
        }
    }

    /// Applies the pending migrations of `conn`'s backend.
    pub fn run(&self, conn: &mut AnyConnection) -> Result<Steps> {
        let source = self.for_backend(conn.backend());
        migrate_source(conn, source, &Target::Latest)
    }
}
