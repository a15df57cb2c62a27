//! Applying and reverting migrations with `diesel_migrations`, on the same
//! `__diesel_schema_migrations` table `diesel migration run` uses.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use orm_core::{AnyConnection, BackendKind, Models, MultiBackend};

use crate::diff::diff;
use crate::error::{MigrationError, Result};
use crate::folder::{read, MigrationFile, MigrationsDir};

/// A migration and whether the database has applied it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The migration.
    pub migration: MigrationFile,
    /// Applied to the database.
    pub applied: bool,
}

/// Where `migrate` goes: the newest migration, a version, or before the
/// first one (`zero`, as Django says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Apply every pending migration.
    Latest,
    /// Apply or revert until this version is the newest applied.
    Version(String),
    /// Revert every migration.
    Zero,
}

impl Target {
    /// `None` → latest, `"zero"` → zero, anything else a version (dashes
    /// and a `_name` suffix allowed: `2026-12-03-101500_add_slug`).
    ///
    /// ```
    /// use orm_migrations::Target;
    /// assert_eq!(Target::parse(None), Target::Latest);
    /// assert_eq!(Target::parse(Some("2026-12-03-101500_x")), Target::Version("20261203101500".into()));
    /// ```
    pub fn parse(target: Option<&str>) -> Self {
        match target {
            None => Target::Latest,
            Some("zero") => Target::Zero,
            Some(v) => Target::Version(v.split('_').next().unwrap_or(v).replace('-', "")),
        }
    }
}

/// What `migrate` did, in order: `(version, true)` applied, `(version,
/// false)` reverted.
pub type Steps = Vec<(String, bool)>;

/// Applies or reverts `dir`'s migrations for `conn`'s backend until
/// `target` is reached. Each migration runs in a transaction where the
/// backend can roll DDL back (PostgreSQL, SQLite); a failed one leaves the
/// database at the previous version there. MySQL/MariaDB commit each DDL
/// statement implicitly: a migration that fails part-way keeps the
/// statements before the failing one (and is not recorded as applied).
///
/// Migrations two branches each added, out of the order they were made in
/// ([`MigrationError::Conflict`]), are applied by none: the run stops
/// before applying anything (reverting still runs, to undo one of them).
pub fn migrate(conn: &mut AnyConnection, dir: &MigrationsDir, target: &Target) -> Result<Steps> {
    let conflict = match dir.recorded_state() {
        Err(conflict @ MigrationError::Conflict { .. }) => Some(conflict),
        other => other.map(|_| None)?,
    };
    let backend = conn.backend();
    let source = source(dir, backend)?;
    run(conn, &source, target, conflict)
}

/// [`migrate`] over any diesel migration source, e.g. one embedded with
/// `diesel_migrations::embed_migrations!`.
pub fn migrate_source<S>(conn: &mut AnyConnection, source: &S, target: &Target) -> Result<Steps>
where
    S: MigrationSource<MultiBackend>,
{
    run(conn, source, target, None)
}

/// Runs the steps to `target`; `refuse_applying` fails the run before a
/// migration would be applied.
fn run<S>(
    conn: &mut AnyConnection,
    source: &S,
    target: &Target,
    mut refuse_applying: Option<MigrationError>,
) -> Result<Steps>
where
    S: MigrationSource<MultiBackend>,
{
    let source = ByRef(source);
    let backend = conn.backend();
    let known: Vec<String> = source
        .migrations()
        .map_err(run_error)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    if let Target::Version(v) = target {
        if !known.contains(v) {
            return Err(MigrationError::NoMigration { version: v.clone() });
        }
    }
    let mut steps = Vec::new();
    loop {
        let applied = applied(conn)?;
        let newest = applied.iter().max().cloned();
        let step = match target {
            Target::Latest => next(&source, &applied)?.map(|_| true),
            Target::Zero => newest.as_ref().map(|_| false),
            Target::Version(v) => match &newest {
                Some(n) if n > v => Some(false),
                _ if !applied.contains(v) => Some(true),
                _ => None,
            },
        };
        let Some(forward) = step else {
            return Ok(steps);
        };
        if let (true, Some(refused)) = (forward, refuse_applying.take()) {
            return Err(refused);
        }
        let result = if forward {
            conn.run_next_migration(source)
        } else {
            conn.revert_last_migration(source)
        };
        match result {
            Ok(version) => steps.push((version.to_string(), forward)),
            Err(e) => {
                recover(conn, backend);
                let error = run_error(e);
                if steps.is_empty() {
                    return Err(error);
                }
                let failed = if forward {
                    next(&source, &applied)?.unwrap_or_default()
                } else {
                    newest.unwrap_or_default()
                };
                return Err(MigrationError::Stopped {
                    failed,
                    done: steps,
                    source: Box::new(error),
                });
            }
        }
    }
}

/// A migration source lent to diesel_migrations, which takes sources by
/// value.
struct ByRef<'a, S>(&'a S);

impl<S> Clone for ByRef<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for ByRef<'_, S> {}

impl<S: MigrationSource<MultiBackend>> MigrationSource<MultiBackend> for ByRef<'_, S> {
    fn migrations(
        &self,
    ) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<MultiBackend>>>> {
        self.0.migrations()
    }
}

/// The first pending migration's version, if any.
fn next<S: MigrationSource<MultiBackend>>(
    source: &S,
    applied: &[String],
) -> Result<Option<String>> {
    let mut pending: Vec<String> = source
        .migrations()
        .map_err(run_error)?
        .iter()
        .map(|m| m.name().version().to_string())
        .filter(|v| !applied.contains(v))
        .collect();
    pending.sort();
    Ok(pending.into_iter().next())
}

/// The versions the database has applied.
pub fn applied(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(conn
        .applied_migrations()
        .map_err(run_error)?
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// Every migration of `conn`'s backend in `dir`, applied or not, oldest
/// first.
pub fn show(conn: &mut AnyConnection, dir: &MigrationsDir) -> Result<Vec<Status>> {
    let applied = applied(conn)?;
    Ok(dir
        .list(conn.backend())?
        .into_iter()
        .map(|migration| Status {
            applied: applied.contains(&migration.version),
            migration,
        })
        .collect())
}

/// The SQL of one migration on `backend`: `up.sql`, or `down.sql` when
/// `backwards`.
pub fn sql(
    dir: &MigrationsDir,
    backend: BackendKind,
    version: &str,
    backwards: bool,
) -> Result<String> {
    let wanted = match Target::parse(Some(version)) {
        Target::Version(v) => v,
        _ => version.to_owned(),
    };
    let migration = dir
        .list(backend)?
        .into_iter()
        .find(|m| m.version == wanted)
        .ok_or(MigrationError::NoMigration { version: wanted })?;
    read(
        &migration
            .path
            .join(if backwards { "down.sql" } else { "up.sql" }),
    )
}

/// The model changes no migration records yet, described; empty when the
/// models and the migrations agree.
pub fn check(dir: &MigrationsDir, models: &Models) -> Result<Vec<String>> {
    Ok(diff(&dir.recorded_state()?, models)?
        .iter()
        .map(ToString::to_string)
        .collect())
}

fn source(dir: &MigrationsDir, backend: BackendKind) -> Result<FileBasedMigrations> {
    let path = dir.backend_path(backend);
    if !path.is_dir() {
        return Err(MigrationError::Run(format!(
            "{} does not exist: run `makemigrations` first",
            path.display()
        )));
    }
    FileBasedMigrations::from_path(&path).map_err(run_error)
}

/// After a failed SQLite migration (run outside the runner's transaction),
/// rolls back what its own transaction did and turns foreign keys back on.
fn recover(conn: &mut AnyConnection, backend: BackendKind) {
    if backend == BackendKind::Sqlite {
        // No transaction open is fine: the ROLLBACK error is expected then.
        let _ = conn.batch_execute("ROLLBACK");
        let _ = conn.batch_execute("PRAGMA foreign_keys = ON");
    }
}

fn run_error(e: impl std::fmt::Display) -> MigrationError {
    MigrationError::Run(e.to_string())
}
