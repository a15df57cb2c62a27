//! The migrations folder: one sub-folder per backend, each holding
//! diesel's layout (`<version>_<name>/up.sql`, `down.sql`), plus the
//! operations of each migration (`operations.json`): replayed in version
//! order, they give the schema the next `makemigrations` compares the
//! models with.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, Timelike};

use orm_core::{BackendKind, Models};

use crate::diff::diff;
use crate::error::{MigrationError, Result};
use crate::operation::Operation;
use crate::render::render;
use crate::state::SchemaState;

/// The file recording a migration's operations, for replay.
pub const OPERATIONS_FILE: &str = "operations.json";

/// Every backend, in the order folders are written.
pub const BACKENDS: [BackendKind; 3] = [
    BackendKind::Sqlite,
    BackendKind::Postgres,
    BackendKind::Mysql,
];

/// The sub-folder of `backend`'s migrations: `sqlite`, `postgres`, `mysql`.
///
/// ```
/// assert_eq!(orm_migrations::backend_folder(orm_core::BackendKind::Postgres), "postgres");
/// ```
pub fn backend_folder(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
        BackendKind::Mysql => "mysql",
    }
}

/// One migration on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationFile {
    /// diesel's version: the folder name up to the first `_`, without `-`.
    pub version: String,
    /// The folder name (`2026-12-03-101500_add_tag_slug`).
    pub name: String,
    /// The folder.
    pub path: PathBuf,
}

/// A migrations folder (`migrations/` of the app, by default).
///
/// ```
/// let dir = orm_migrations::MigrationsDir::new("migrations");
/// assert!(dir.backend_path(orm_core::BackendKind::Sqlite).ends_with("migrations/sqlite"));
/// ```
#[derive(Clone, Debug)]
pub struct MigrationsDir {
    root: PathBuf,
}

/// What `makemigrations` wrote.
#[derive(Clone, Debug)]
pub struct Made {
    /// The folder name, the same under each backend.
    pub name: String,
    /// The operations, described.
    pub operations: Vec<String>,
    /// The folders written.
    pub paths: Vec<PathBuf>,
}

impl MigrationsDir {
    /// The folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MigrationsDir { root: root.into() }
    }

    /// The folder of `backend`'s migrations.
    pub fn backend_path(&self, backend: BackendKind) -> PathBuf {
        self.root.join(backend_folder(backend))
    }

    /// `backend`'s migrations, oldest first; none when the folder does not
    /// exist.
    pub fn list(&self, backend: BackendKind) -> Result<Vec<MigrationFile>> {
        let dir = self.backend_path(backend);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(MigrationError::Io { path: dir, source }),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| MigrationError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            let version = name.split('_').next().unwrap_or_default().replace('-', "");
            found.push(MigrationFile {
                version,
                name,
                path: entry.path(),
            });
        }
        found.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(found)
    }

    /// The migrations of every backend.
    fn all(&self) -> Result<Vec<MigrationFile>> {
        let mut all = Vec::new();
        for backend in BACKENDS {
            all.extend(self.list(backend)?);
        }
        Ok(all)
    }

    /// The schema the migrations describe: the operations of every
    /// migration (of any backend, each folder name once), replayed in version
    /// order from an empty schema. Migrations without an operations file
    /// (hand-written ones) change nothing here.
    ///
    /// Replaying, rather than reading the newest migration's result, keeps
    /// the changes of two branches that each added a migration.
    ///
    /// Each migration records the one it was made after. When others now
    /// come between them (two branches each added a migration) and one of
    /// those changed a table it changes too, its SQL does not know that
    /// change (a SQLite table rebuild would drop it, a MySQL `MODIFY`
    /// restate the column without it): [`MigrationError::Conflict`].
    /// Branches that changed different tables replay as they are.
    pub fn recorded_state(&self) -> Result<SchemaState> {
        let mut replayed: Vec<(String, Vec<Operation>)> = Vec::new();
        for migration in self.recorded()? {
            let path = migration.path.join(OPERATIONS_FILE);
            let text = read(&path)?;
            let recorded: Recorded = serde_json::from_str(&text)
                .map_err(|source| MigrationError::State { path, source })?;
            let operations = match recorded {
                Recorded::Linked { after, operations } => {
                    let since = match &after {
                        None => Some(0),
                        Some(after) => replayed.iter().position(|(n, _)| n == after).map(|i| i + 1),
                    };
                    let tables: Vec<&str> = operations.iter().flat_map(Operation::tables).collect();
                    let clash = match since {
                        // The migration it was made after is gone: what
                        // came between cannot be told.
                        None => replayed.last(),
                        Some(since) => replayed[since..].iter().find(|(_, ops)| {
                            ops.iter()
                                .flat_map(Operation::tables)
                                .any(|t| tables.contains(&t))
                        }),
                    };
                    if let Some((between, _)) = clash {
                        return Err(MigrationError::Conflict {
                            migration: migration.name,
                            after,
                            between: between.clone(),
                        });
                    }
                    operations
                }
                Recorded::Unlinked(operations) => operations,
            };
            replayed.push((migration.name, operations));
        }
        let mut state = SchemaState::default();
        for op in replayed.iter().flat_map(|(_, ops)| ops) {
            op.apply(&mut state);
        }
        Ok(state)
    }

    /// The migrations with an operations file (of any backend, each folder
    /// name once), in version order.
    fn recorded(&self) -> Result<Vec<MigrationFile>> {
        let mut migrations: Vec<MigrationFile> = self
            .all()?
            .into_iter()
            .filter(|m| m.path.join(OPERATIONS_FILE).is_file())
            .collect();
        migrations.sort_by(|a, b| (&a.version, &a.name).cmp(&(&b.version, &b.name)));
        migrations.dedup_by(|a, b| a.name == b.name);
        Ok(migrations)
    }

    /// Writes the migration taking the recorded state to what `models`
    /// describe, for each of `backends`; `None` when there is no change.
    /// `name` defaults to one made from the first operation.
    pub fn make(
        &self,
        models: &Models,
        name: Option<&str>,
        backends: &[BackendKind],
    ) -> Result<Option<Made>> {
        let recorded = self.recorded_state()?;
        let ops = diff(&recorded, models)?;
        if ops.is_empty() {
            return Ok(None);
        }
        let label = match name {
            Some(name) => slug(name),
            None if ops.len() == 1 => slug(&ops[0].to_string()),
            None => format!("{}_and_more", slug(&ops[0].to_string())),
        };
        let folder = format!("{}_{label}", self.next_version()?);
        let file = Recorded::Linked {
            after: self.recorded()?.pop().map(|m| m.name),
            operations: ops.clone(),
        };
        let operations =
            serde_json::to_string_pretty(&file).map_err(|source| MigrationError::State {
                path: PathBuf::from(OPERATIONS_FILE),
                source,
            })?;
        let mut paths = Vec::new();
        for &backend in backends {
            let sql = render(backend, &ops, &recorded);
            let path = self.backend_path(backend).join(&folder);
            write(&path.join("up.sql"), &sql.up)?;
            write(&path.join("down.sql"), &sql.down)?;
            if let Some(metadata) = &sql.metadata {
                write(&path.join("metadata.toml"), metadata)?;
            }
            write(&path.join(OPERATIONS_FILE), &format!("{operations}\n"))?;
            paths.push(path);
        }
        Ok(Some(Made {
            name: folder,
            operations: ops.iter().map(ToString::to_string).collect(),
            paths,
        }))
    }

    /// The folder name prefix of a new migration: the time now
    /// (`YYYY-MM-DD-HHMMSS`, diesel's format), or one second after the
    /// newest existing version if that is not later.
    fn next_version(&self) -> Result<String> {
        let now = chrono::Utc::now().naive_utc();
        let newest = self
            .all()?
            .into_iter()
            .filter_map(|m| NaiveDateTime::parse_from_str(&m.version, VERSION).ok())
            .max();
        let next = match newest {
            Some(newest) if newest >= now.with_nanosecond(0).unwrap_or(now) => {
                newest + chrono::Duration::seconds(1)
            }
            _ => now,
        };
        Ok(next.format(FOLDER_VERSION).to_string())
    }
}

/// A version as diesel compares it (the folder name's prefix without `-`).
const VERSION: &str = "%Y%m%d%H%M%S";
/// A version as a folder name starts.
const FOLDER_VERSION: &str = "%Y-%m-%d-%H%M%S";

/// What a migration's operations file holds: its operations and the
/// migration it was made after (files written before that was recorded
/// hold the operations alone).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Recorded {
    Linked {
        /// The newest recorded migration when it was made (`None`: the
        /// first).
        after: Option<String>,
        operations: Vec<Operation>,
    },
    Unlinked(Vec<Operation>),
}

/// `Add column tag.slug` -> `add_column_tag_slug`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "migration".to_owned()
    } else {
        trimmed.to_owned()
    }
}

pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| MigrationError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    let io = |source| MigrationError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    fs::write(path, text).map_err(io)
}
