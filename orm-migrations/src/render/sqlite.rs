//! SQLite: what its `ALTER TABLE` can do directly, and the documented
//! rebuild (create the new table, copy the rows, drop the old one, rename)
//! for everything else, with foreign keys checked before the commit.

use orm_core::schema::ddl::{
    column_definition, constraints, create_index, create_indexes, create_table, quote,
};
use orm_core::schema::TableDef;
use orm_core::BackendKind;

use super::alter::filled_default;
use super::{drop_table, renames};
use crate::operation::Operation;
use crate::state::SchemaState;

const SQLITE: BackendKind = BackendKind::Sqlite;

/// SQLite migrations run outside the runner's transaction: foreign keys
/// can only be turned off outside one, and a rebuild needs them off (a
/// `DROP TABLE` would otherwise cascade into the referencing rows). Each
/// file opens and commits its own transaction instead.
pub const METADATA: &str = "run_in_transaction = false\n";

/// `statements` inside `BEGIN` ... `COMMIT` with foreign keys off, failing
/// before the commit if the migration left a reference dangling.
pub fn wrap(statements: &[String]) -> String {
    let mut sql = String::from("PRAGMA foreign_keys = OFF;\nBEGIN;\n");
    for statement in statements {
        sql.push_str(statement);
        sql.push_str(";\n");
    }
    sql.push_str(
        "CREATE TEMP TABLE \"orm_foreign_key_check\" (\"dangling_references\" INTEGER CHECK (\"dangling_references\" = 0));\n\
         INSERT INTO \"orm_foreign_key_check\" SELECT COUNT(*) FROM pragma_foreign_key_check;\n\
         DROP TABLE \"orm_foreign_key_check\";\n\
         COMMIT;\n\
         PRAGMA foreign_keys = ON;\n",
    );
    sql
}

pub fn statements(op: &Operation, state: &SchemaState) -> Vec<String> {
    let q = |ident: &str| quote(SQLITE, ident);
    let before = state.table(op.table());
    let after = || {
        let mut next = state.clone();
        op.apply(&mut next);
        next.table(op.table()).cloned()
    };
    let rebuilt = || match (before, after()) {
        (Some(before), Some(after)) => rebuild(before, &after),
        _ => Vec::new(),
    };
    match op {
        Operation::CreateTable(table) => create_table(SQLITE, table),
        Operation::DropTable(table) => vec![drop_table(SQLITE, &table.name)],
        Operation::RenameTable { from, to } => {
            let mut out = vec![format!("ALTER TABLE {} RENAME TO {}", q(from), q(to))];
            if let Some(before) = state.table(from) {
                let renamed = TableDef {
                    name: to.clone(),
                    ..before.clone()
                };
                out.extend(renames::statements(SQLITE, before, &renamed));
            }
            out
        }
        Operation::AddColumn { table, column } => {
            if column.unique || column.references.is_some() {
                return rebuilt();
            }
            let mut out = vec![format!(
                "ALTER TABLE {} ADD COLUMN {}",
                q(table),
                column_definition(SQLITE, table, column)
            )];
            out.extend(create_index(SQLITE, table, column));
            out
        }
        Operation::DropColumn { table, column } => {
            let in_unique_together =
                before.is_some_and(|t| t.unique_together.contains(&column.name));
            if column.keyed() || in_unique_together || column.choices.is_some() {
                return rebuilt();
            }
            vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                q(table),
                q(&column.name)
            )]
        }
        Operation::RenameColumn { table, from, to } => {
            let mut out = vec![format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                q(table),
                q(from),
                q(to)
            )];
            if let (Some(before), Some(after)) = (before, after()) {
                out.extend(renames::statements(SQLITE, before, &after));
            }
            out
        }
        Operation::AlterColumn { table, from, to } => {
            // SQLite's types have no length: a change the table's SQL does
            // not show (`max_length`) costs nothing, an index is its own
            // statement, anything else rebuilds the table.
            let sql = |c| {
                (
                    column_definition(SQLITE, table, c),
                    constraints(SQLITE, table, c),
                )
            };
            if sql(from) != sql(to) {
                return rebuilt();
            }
            match (
                create_index(SQLITE, table, from),
                create_index(SQLITE, table, to),
            ) {
                (Some(_), None) => vec![format!(
                    "DROP INDEX {}",
                    q(&orm_core::schema::ddl::names::index(table, &from.name))
                )],
                (None, Some(created)) => vec![created],
                _ => Vec::new(),
            }
        }
        Operation::AlterUniqueTogether { .. } => rebuilt(),
    }
}

/// The twelve-step rebuild of SQLite's documentation, steps 4-8: a new
/// table under a temporary name, the rows copied (the columns both have),
/// the old table dropped, the new one renamed, its indexes created.
fn rebuild(before: &TableDef, after: &TableDef) -> Vec<String> {
    let q = |ident: &str| quote(SQLITE, ident);
    let temporary = format!("{}__orm_new", after.name);
    let (common, values): (Vec<String>, Vec<String>) = after
        .columns
        .iter()
        .filter_map(|c| {
            let old = before.column(&c.name)?;
            let name = q(&c.name);
            // Made NOT NULL: its NULLs take the default.
            let value = match filled_default(old, c) {
                Some(default) => format!("COALESCE({name}, {default})"),
                None => name.clone(),
            };
            Some((name, value))
        })
        .unzip();
    let mut out = vec![
        orm_core::schema::ddl::create_table_statement(SQLITE, after, &temporary),
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            q(&temporary),
            common.join(", "),
            values.join(", "),
            q(&before.name)
        ),
    ];
    let autoincrement = |t: &TableDef| t.columns.iter().any(|c| c.primary_key && c.auto_increment);
    if autoincrement(before) && autoincrement(after) {
        // AUTOINCREMENT never reuses a key: the new table continues the
        // old one's counter (the copy would set it to the largest key
        // left, below those of deleted rows).
        let text = |name: &str| format!("'{}'", name.replace('\'', "''"));
        out.push(format!(
            "DELETE FROM sqlite_sequence WHERE name = {}",
            text(&temporary)
        ));
        out.push(format!(
            "INSERT INTO sqlite_sequence (name, seq) SELECT {}, seq FROM sqlite_sequence WHERE name = {}",
            text(&temporary),
            text(&before.name)
        ));
    }
    out.push(drop_table(SQLITE, &before.name));
    out.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        q(&temporary),
        q(&after.name)
    ));
    out.extend(create_indexes(SQLITE, after));
    out
}
