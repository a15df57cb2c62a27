//! Operations as SQL, per backend: the `up.sql` and `down.sql` of a
//! migration.

mod alter;
mod renames;
mod sqlite;

use orm_core::schema::ddl::{create_table_among, quote};
use orm_core::BackendKind;

use crate::operation::Operation;
use crate::state::SchemaState;

/// The SQL files of one migration on one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationSql {
    /// `up.sql`: applies the operations.
    pub up: String,
    /// `down.sql`: undoes them.
    pub down: String,
    /// `metadata.toml`, when the migration must not be wrapped in a
    /// transaction by the runner (SQLite: it turns foreign keys off around
    /// its own transaction).
    pub metadata: Option<String>,
}

/// The SQL of `ops` on `backend`, starting from the schema `before`.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_core::BackendKind;
/// use orm_migrations::{diff, render, SchemaState};
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Tag {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
/// }
///
/// let before = SchemaState::default();
/// let ops = diff(&before, &orm_core::models![Tag])?;
/// let sql = render(BackendKind::Postgres, &ops, &before);
/// assert_eq!(sql.up, "CREATE TABLE \"tag\" (\"id\" BIGSERIAL NOT NULL PRIMARY KEY);\n");
/// assert_eq!(sql.down, "DROP TABLE \"tag\";\n");
/// # Ok::<(), orm_migrations::MigrationError>(())
/// ```
pub fn render(backend: BackendKind, ops: &[Operation], before: &SchemaState) -> MigrationSql {
    let mut state = before.clone();
    let up = statements(backend, ops, &mut state);
    let reversed: Vec<Operation> = ops.iter().rev().map(Operation::reverse).collect();
    let down = statements(backend, &reversed, &mut state);
    match backend {
        BackendKind::Sqlite => MigrationSql {
            up: sqlite::wrap(&up),
            down: sqlite::wrap(&down),
            metadata: Some(sqlite::METADATA.to_owned()),
        },
        BackendKind::Postgres | BackendKind::Mysql => MigrationSql {
            up: join(&up),
            down: join(&down),
            metadata: None,
        },
    }
}

/// The statements of `ops`, advancing `state` past each. A foreign key of
/// a new table to one created later in `ops` (tables referencing each
/// other) is added at the end, once both exist.
fn statements(backend: BackendKind, ops: &[Operation], state: &mut SchemaState) -> Vec<String> {
    let mut out = Vec::new();
    let mut later = Vec::new();
    for op in ops {
        match (backend, op) {
            (BackendKind::Sqlite, op) => out.extend(sqlite::statements(op, state)),
            (_, Operation::CreateTable(table)) => {
                let (now, deferred) =
                    create_table_among(backend, table, |t| state.table(t).is_some());
                out.extend(now);
                later.extend(deferred);
            }
            (_, op) => out.extend(alter::statements(backend, op, state)),
        }
        op.apply(state);
    }
    out.extend(later);
    out
}

fn join(statements: &[String]) -> String {
    statements.iter().map(|s| format!("{s};\n")).collect()
}

/// `DROP TABLE t`.
fn drop_table(backend: BackendKind, table: &str) -> String {
    format!("DROP TABLE {}", quote(backend, table))
}
