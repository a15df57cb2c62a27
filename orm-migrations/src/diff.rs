//! The operations turning a recorded state into what the models describe.

use orm_core::schema::{ColumnDef, TableDef};
use orm_core::Models;

use crate::error::{MigrationError, Result};
use crate::operation::Operation;
use crate::state::SchemaState;

/// The operations that take the schema from `recorded` to what `models`
/// describe, in the order to run them: renames first, then new tables,
/// column changes, and dropped tables last.
///
/// A table or column is renamed only when the model says so with
/// `#[orm(renamed_from = "old")]`; otherwise a missing name is dropped and a
/// new one added. A NOT NULL column added to an existing table, or a
/// nullable one made NOT NULL, needs a `#[orm(default = ...)]` (the rows
/// it has need a value; a column made NOT NULL is filled with it where it
/// is NULL), and primary keys are not changed: both are a
/// [`MigrationError::Unsupported`] saying what to do.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_migrations::{diff, Operation, SchemaState};
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Tag {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     pub name: String,
/// }
///
/// let ops = diff(&SchemaState::default(), &orm_core::models![Tag])?;
/// assert!(matches!(&ops[..], [Operation::CreateTable(t)] if t.name == "tag"));
/// # Ok::<(), orm_migrations::MigrationError>(())
/// ```
pub fn diff(recorded: &SchemaState, models: &Models) -> Result<Vec<Operation>> {
    let target = SchemaState::of(models);
    let mut state = recorded.clone();
    let mut ops = Vec::new();
    let mut run = |op: Operation, state: &mut SchemaState| {
        op.apply(state);
        ops.push(op);
    };

    for meta in models.tables() {
        let Some(from) = meta.renamed_from else {
            continue;
        };
        // The model's table, and the generated through tables named after it.
        let through = meta.through.iter().map(|t| t().table).filter_map(|table| {
            let suffix = table.strip_prefix(meta.table)?;
            Some((format!("{from}{suffix}"), table))
        });
        for (old, new) in std::iter::once((from.to_owned(), meta.table)).chain(through) {
            if state.table(new).is_none()
                && state.table(&old).is_some()
                && target.table(&old).is_none()
            {
                let op = Operation::RenameTable {
                    from: old,
                    to: new.to_owned(),
                };
                run(op, &mut state);
            }
        }
    }
    for meta in models.tables() {
        for column in meta.columns {
            let Some(from) = column.renamed_from else {
                continue;
            };
            let Some(table) = state.table(meta.table) else {
                continue;
            };
            if table.column(column.name).is_none()
                && table.column(from).is_some()
                && meta.column(from).is_none()
            {
                let op = Operation::RenameColumn {
                    table: meta.table.to_owned(),
                    from: from.to_owned(),
                    to: column.name.to_owned(),
                };
                run(op, &mut state);
            }
        }
    }
    for table in &target.tables {
        if state.table(&table.name).is_none() {
            run(Operation::CreateTable(table.clone()), &mut state);
        }
    }
    for table in &target.tables {
        let Some(before) = state.table(&table.name).cloned() else {
            continue;
        };
        for op in table_changes(&before, table)? {
            run(op, &mut state);
        }
    }
    let dropped: Vec<TableDef> = state
        .tables
        .iter()
        .rev()
        .filter(|t| target.table(&t.name).is_none())
        .cloned()
        .collect();
    for table in dropped {
        run(Operation::DropTable(table), &mut state);
    }
    Ok(ops)
}

/// Column and `unique_together` changes of one table.
fn table_changes(before: &TableDef, after: &TableDef) -> Result<Vec<Operation>> {
    let mut ops = Vec::new();
    let table = || after.name.clone();
    for column in &after.columns {
        match before.column(&column.name) {
            None => {
                check_added(&after.name, column)?;
                ops.push(Operation::AddColumn {
                    table: table(),
                    column: column.clone(),
                });
            }
            Some(old) if old != column => {
                check_altered(&after.name, old, column)?;
                ops.push(Operation::AlterColumn {
                    table: table(),
                    from: old.clone(),
                    to: column.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if before.unique_together != after.unique_together {
        ops.push(Operation::AlterUniqueTogether {
            table: table(),
            from: before.unique_together.clone(),
            to: after.unique_together.clone(),
        });
    }
    for column in &before.columns {
        if after.column(&column.name).is_none() {
            if column.primary_key {
                return Err(unsupported(
                    &after.name,
                    &column.name,
                    "the primary key cannot be dropped or renamed by a generated migration; write that migration by hand",
                ));
            }
            ops.push(Operation::DropColumn {
                table: table(),
                column: column.clone(),
            });
        }
    }
    Ok(ops)
}

fn check_added(table: &str, column: &ColumnDef) -> Result<()> {
    if column.primary_key {
        return Err(unsupported(
            table,
            &column.name,
            "a new primary key on an existing table needs a hand-written migration",
        ));
    }
    if !column.nullable && column.default.is_none() {
        return Err(unsupported(
            table,
            &column.name,
            "a new NOT NULL column needs a value for the rows the table already has: \
             add #[orm(default = ...)] to the field, or make it an Option, \
             or write the migration by hand (add it nullable, fill it, then make it NOT NULL)",
        ));
    }
    Ok(())
}

fn check_altered(table: &str, old: &ColumnDef, new: &ColumnDef) -> Result<()> {
    if old.primary_key != new.primary_key
        || (new.primary_key && (old.kind != new.kind || old.auto_increment != new.auto_increment))
    {
        return Err(unsupported(
            table,
            &new.name,
            "changing a primary key needs a hand-written migration (its type, or which column it is)",
        ));
    }
    if old.nullable && !new.nullable && new.default.is_none() {
        return Err(unsupported(
            table,
            &new.name,
            "a column made NOT NULL needs a value for the rows where it is NULL: \
             add #[orm(default = ...)] to the field (the migration fills them with it), \
             or write the migration by hand (fill them, then make it NOT NULL)",
        ));
    }
    Ok(())
}

fn unsupported(table: &str, column: &str, reason: &str) -> MigrationError {
    MigrationError::Unsupported {
        table: table.to_owned(),
        column: column.to_owned(),
        reason: reason.to_owned(),
    }
}
