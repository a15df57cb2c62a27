//! The command line an app owns, like Django's `manage.py`: a binary of one
//! line,
//!
//! ```no_run
//! # use orm_core::prelude::*;
//! # #[derive(Model, Debug, Clone, Default)]
//! # pub struct Tag { #[orm(primary_key)] pub id: Option<i64> }
//! fn main() -> std::process::ExitCode {
//!     orm_migrations::manage::main(orm_core::models![Tag])
//! }
//! ```
//!
//! then `cargo run --bin manage -- makemigrations`, `migrate`, ... (see
//! `--help`). The database comes from `--database` or `DATABASE_URL`.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use orm_core::{BackendKind, DatabaseUrl, Db, Models};

use crate::error::{MigrationError, Result};
use crate::folder::{MigrationsDir, BACKENDS};
use crate::run::{self, Target};

#[derive(Parser, Debug)]
#[command(about = "Migrations for the app's models: make them, apply them, inspect them.")]
struct Cli {
    /// The database URL (sqlite://file.db, postgres://..., mysql://...).
    #[arg(long, env = "DATABASE_URL", global = true)]
    database: Option<String>,
    /// The migrations folder (one sub-folder per backend).
    #[arg(long, default_value = "migrations", global = true)]
    migrations: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a migration from what changed in the models since the last one.
    Makemigrations {
        /// The migration's name (default: made from its first change).
        #[arg(long)]
        name: Option<String>,
        /// The backends to write it for (default: all three).
        #[arg(long, value_enum, value_delimiter = ',')]
        backend: Vec<Backend>,
    },
    /// Apply pending migrations, or go to TARGET (a version, or `zero`),
    /// reverting newer ones.
    Migrate {
        /// A version (`2026-12-03-101500` or its folder name) or `zero`.
        target: Option<String>,
    },
    /// List the migrations, applied ([X]) or not ([ ]).
    Showmigrations,
    /// Print the SQL of one migration.
    Sqlmigrate {
        /// The migration's version or folder name.
        version: String,
        /// Print down.sql instead of up.sql.
        #[arg(long)]
        backwards: bool,
        /// The dialect (default: the database's).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
    },
    /// Exit with status 1 if the models changed since the last migration.
    Check,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl From<Backend> for BackendKind {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Sqlite => BackendKind::Sqlite,
            Backend::Postgres => BackendKind::Postgres,
            Backend::Mysql => BackendKind::Mysql,
        }
    }
}

/// Runs the command line with the process's arguments; the exit code is 0
/// on success, 1 when `check` finds changes or a command fails, 2 on bad
/// arguments.
pub fn main(models: Models) -> ExitCode {
    let stdout = std::io::stdout();
    run(&models, std::env::args_os(), &mut stdout.lock())
}

/// [`main`] with the arguments and output given (for tests).
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64> }
/// let mut out = Vec::new();
/// let code = orm_migrations::manage::run(&orm_core::models![Tag], ["manage", "--help"], &mut out);
/// assert_eq!(code, std::process::ExitCode::SUCCESS);
/// assert!(String::from_utf8(out).unwrap().contains("makemigrations"));
/// ```
pub fn run<I, T>(models: &Models, args: I, out: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if e.use_stderr() {
                eprint!("{e}");
            } else {
                let _ = write!(out, "{e}");
            }
            return ExitCode::from(code);
        }
    };
    match execute(models, cli, out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(models: &Models, cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let dir = MigrationsDir::new(&cli.migrations);
    let database = || {
        cli.database.clone().ok_or_else(|| {
            MigrationError::Run("no database: pass --database URL or set DATABASE_URL".to_owned())
        })
    };
    let print = |out: &mut dyn Write, line: String| {
        writeln!(out, "{line}").map_err(|source| MigrationError::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
    };
    match cli.command {
        Command::Makemigrations { name, backend } => {
            let backends: Vec<BackendKind> = if backend.is_empty() {
                BACKENDS.to_vec()
            } else {
                backend.into_iter().map(Into::into).collect()
            };
            match dir.make(models, name.as_deref(), &backends)? {
                None => print(out, "No changes detected".to_owned())?,
                Some(made) => {
                    print(out, format!("Migration {}:", made.name))?;
                    for op in &made.operations {
                        print(out, format!("  - {op}"))?;
                    }
                }
            }
        }
        Command::Migrate { target } => {
            let db = Db::connect(&database()?)?;
            let mut conn = db.get()?;
            let steps = run::migrate(&mut conn, &dir, &Target::parse(target.as_deref()))?;
            if steps.is_empty() {
                print(out, "No migrations to apply".to_owned())?;
            }
            for (version, applied) in steps {
                let verb = if applied { "Applied" } else { "Reverted" };
                print(out, format!("{verb} {version}"))?;
            }
        }
        Command::Showmigrations => {
            let db = Db::connect(&database()?)?;
            let mut conn = db.get()?;
            for status in run::show(&mut conn, &dir)? {
                let mark = if status.applied { "X" } else { " " };
                print(out, format!("[{mark}] {}", status.migration.name))?;
            }
        }
        Command::Sqlmigrate {
            version,
            backwards,
            backend,
        } => {
            let backend = match backend {
                Some(b) => b.into(),
                None => DatabaseUrl::parse(&database()?)?.backend(),
            };
            let sql = run::sql(&dir, backend, &version, backwards)?;
            print(out, sql.trim_end().to_owned())?;
        }
        Command::Check => {
            let changes = run::check(&dir, models)?;
            if !changes.is_empty() {
                print(
                    out,
                    "The models have changes no migration records; run makemigrations:".to_owned(),
                )?;
                for change in changes {
                    print(out, format!("  - {change}"))?;
                }
                return Ok(ExitCode::FAILURE);
            }
            print(out, "Models and migrations agree".to_owned())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
