//! Migrations for orm-core, in the way of Django's `makemigrations` /
//! `migrate`, on diesel's migration folders.
//!
//! - [`MigrationsDir::make`] compares the models ([`orm_core::models!`])
//!   with the state the newest migration recorded and writes the next
//!   migration: `migrations/<backend>/<version>_<name>/up.sql`, `down.sql`
//!   (diesel's layout, so `diesel migration run` and `embed_migrations!`
//!   read it), and `operations.json` (what the next one is compared with).
//! - [`migrate`] applies or reverts them with `diesel_migrations`.
//! - [`manage::main`] is the command line an app owns (feature `cli`).
//!
//! ```
//! use orm_core::prelude::*;
//! use orm_migrations::{migrate, MigrationsDir, Target};
//!
//! #[derive(Model, Debug, Clone, Default)]
//! pub struct Tag {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     pub name: String,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = std::env::temp_dir().join(format!("orm-doc-{}", std::process::id()));
//! let dir = MigrationsDir::new(&root);
//! let made = dir.make(&orm_core::models![Tag], Some("initial"), &[orm_core::BackendKind::Sqlite])?;
//! assert!(made.is_some());
//!
//! let db = Db::connect("sqlite::memory:")?;
//! let mut conn = db.get()?;
//! let steps = migrate(&mut conn, &dir, &Target::Latest)?;
//! assert_eq!(steps.len(), 1);
//! assert_eq!(Tag::objects().count(&mut conn)?, 0);
//! # std::fs::remove_dir_all(root)?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod diff;
mod embedded;
mod error;
mod folder;
#[cfg(feature = "cli")]
pub mod manage;
mod operation;
mod render;
mod run;
mod state;

pub use diff::diff;
pub use embedded::Embedded;
pub use error::{MigrationError, Result};
pub use folder::{backend_folder, Made, MigrationFile, MigrationsDir, BACKENDS, OPERATIONS_FILE};
pub use operation::Operation;
pub use render::{render, MigrationSql};
pub use run::{applied, check, migrate, migrate_source, show, sql, Status, Steps, Target};
pub use state::SchemaState;

/// Embeds one migrations folder in the program (diesel_migrations'
/// `embed_migrations!`, without the app depending on diesel_migrations
/// itself); the path is relative to the crate's `Cargo.toml`. See
/// [`Embedded`].
#[macro_export]
macro_rules! embed_migrations {
    ($path:literal) => {{
        // The macro's expansion names `diesel_migrations::...`.
        use $crate::__private::diesel_migrations;
        diesel_migrations::embed_migrations!($path)
    }};
}

/// What the macros use; not API.
#[doc(hidden)]
pub mod __private {
    pub use diesel_migrations;
}
