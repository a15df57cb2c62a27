//! What can go wrong making or running migrations.

use std::path::PathBuf;

/// An error from `orm-migrations`; each says what to do.
///
/// ```
/// let e = orm_migrations::MigrationError::NoMigration { version: "0042".into() };
/// assert!(e.to_string().contains("showmigrations"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A model change the generator will not guess at.
    #[error("cannot generate a migration for {table}.{column}: {reason}")]
    Unsupported {
        /// The table.
        table: String,
        /// The column (empty for the table itself).
        column: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Reading or writing the migrations folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A migration's recorded operations are not valid JSON.
    #[error("{path}: the recorded operations are unreadable ({source}); restore the file from version control")]
    State {
        /// The `operations.json` file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A migration was made after another than the one now before it
    /// (two branches each added one), and a migration now between them
    /// changed a table it changes too: its SQL does not know that change.
    #[error("migration {migration} was made after {}, but {between} now comes before it and changes a table it changes too (two branches each added a migration): its SQL does not know that change. Make one of the two again, whichever is not deployed yet: revert it where it was applied (`migrate` to the version before it), delete its folders, and run makemigrations", after.as_deref().unwrap_or("no migration"))]
    Conflict {
        /// The migration.
        migration: String,
        /// The migration it was made after (`None`: made as the first).
        after: Option<String>,
        /// A migration now before it that changes one of its tables.
        between: String,
    },
    /// No migration has this version.
    #[error("no migration has version {version}; `showmigrations` lists them")]
    NoMigration {
        /// The version asked for.
        version: String,
    },
    /// diesel_migrations failed (a statement, the version table...).
    #[error("migration failed: {0}")]
    Run(String),
    /// A migration failed in a run that had applied (or reverted) others
    /// before it: those stay done.
    #[error("{failed} failed: {source}; this run {} before it, which stay{}", done_list(done), if done.len() == 1 { "s" } else { "" })]
    Stopped {
        /// The migration that failed, and whether it was being applied.
        failed: String,
        /// What this run applied (`true`) or reverted before it.
        done: Vec<(String, bool)>,
        /// The failure.
        source: Box<MigrationError>,
    },
    /// The database could not be reached or a statement failed.
    #[error(transparent)]
    Orm(#[from] orm_core::OrmError),
}

impl From<diesel::result::Error> for MigrationError {
    fn from(e: diesel::result::Error) -> Self {
        MigrationError::Orm(e.into())
    }
}

/// "applied 0001_a, 0002_b": the steps of a run, in order.
fn done_list(done: &[(String, bool)]) -> String {
    done.iter()
        .map(|(version, applied)| {
            format!(
                "{} {version}",
                if *applied { "applied" } else { "reverted" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Result` with [`MigrationError`].
pub type Result<T, E = MigrationError> = std::result::Result<T, E>;
