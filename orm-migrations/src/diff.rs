//! The operations turning a recorded state into what the models describe.

use orm_core::schema::{ColumnDef, TableDef};
use orm_core::Models;

use crate::error::{MigrationError, Result};
use crate::operation::Operation;
use crate::state::SchemaState;

/// The operations that take the schema from `recorded` to what `models`
/// describe, in the order to run them: renames first, then each table's
/// column changes, new tables, the column changes of tables that need a
/// new one (a foreign key to it), dropped tables, and last the column
/// changes of tables a dropped one needed unchanged (a column its foreign
/// key references). A table's changes stay together, in their order.
///
/// A table or column is renamed only when the model says so with
/// `#[orm(renamed_from = "old")]`; otherwise a missing name is dropped and a
/// new one added. A NOT NULL column added to an existing table, or a
/// nullable one made NOT NULL, needs a `#[orm(default = ...)]` (the rows
/// it has need a value; a column made NOT NULL is filled with it where it
/// is NULL), and primary keys are not changed: both are a
/// [`MigrationError::Unsupported`] saying what to do. So is a foreign key
/// to a recorded table whose model the list leaves out (the table would
/// be dropped).
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
    check_references(recorded, &target)?;
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
        // The model's table, and the generated through tables named after
        // it (and after their field's old name, when it is renamed too).
        let through = meta.through.iter().map(|t| t()).filter_map(|through| {
            let suffix = through.table.strip_prefix(meta.table)?;
            let old_suffix = through
                .renamed_from
                .and_then(|old| old.strip_prefix(meta.table))
                .unwrap_or(suffix);
            Some((format!("{from}{old_suffix}"), through.table))
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
            // A foreign key's previous field (`writer` for `writer_id`)
            // first, then its previous column.
            let field_column = column.references.map(|_| format!("{from}_id"));
            let old = field_column
                .into_iter()
                .chain(std::iter::once(from.to_owned()))
                .find(|old| table.column(old).is_some() && meta.column(old).is_none());
            if let (None, Some(old)) = (table.column(column.name), old) {
                let op = Operation::RenameColumn {
                    table: meta.table.to_owned(),
                    from: old,
                    to: column.name.to_owned(),
                };
                run(op, &mut state);
            }
        }
    }
    let created: Vec<TableDef> = (target.tables.iter())
        .filter(|t| state.table(&t.name).is_none())
        .cloned()
        .collect();
    let dropped: Vec<TableDef> = (state.tables.iter().rev())
        .filter(|t| target.table(&t.name).is_none())
        .cloned()
        .collect();
    // A table's column changes run together, in their order: before the
    // new tables, unless one of them needs a new table (a foreign key to
    // it) or a dropped table needs one undone first (a column its foreign
    // key references). So a new table's foreign key to a column made
    // unique here finds the constraint.
    let mut changes: [Vec<Operation>; 3] = Default::default();
    for table in &target.tables {
        let Some(before) = state.table(&table.name) else {
            continue;
        };
        let table_ops = table_changes(before, table)?;
        let phase = (table_ops.iter())
            .map(|op| phase_of(op, &table.name, &created, &dropped))
            .max()
            .unwrap_or(Phase::First);
        changes[phase as usize].extend(table_ops);
    }
    let [first, after_created, after_dropped] = changes;
    for op in first {
        run(op, &mut state);
    }
    for table in created {
        run(Operation::CreateTable(table), &mut state);
    }
    for op in after_created {
        run(op, &mut state);
    }
    for table in dropped {
        run(Operation::DropTable(table), &mut state);
    }
    for op in after_dropped {
        run(op, &mut state);
    }
    Ok(ops)
}

/// When a column change runs, against the tables created and dropped.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    First,
    AfterCreated,
    AfterDropped,
}

/// The phase a change of `table` needs: after the dropped tables when one
/// of them references the column it changes or drops, after the new
/// tables when it adds a foreign key to one, first otherwise.
fn phase_of(op: &Operation, table: &str, created: &[TableDef], dropped: &[TableDef]) -> Phase {
    let needed_by_dropped = match op {
        Operation::DropColumn { column, .. } | Operation::AlterColumn { from: column, .. } => {
            referenced(dropped, table, &column.name)
        }
        _ => false,
    };
    let needs_created = match op {
        Operation::AddColumn { column, .. } | Operation::AlterColumn { to: column, .. } => column
            .references
            .as_ref()
            .is_some_and(|r| created.iter().any(|t| t.name == r.table)),
        _ => false,
    };
    if needed_by_dropped {
        Phase::AfterDropped
    } else if needs_created {
        Phase::AfterCreated
    } else {
        Phase::First
    }
}

/// Whether a foreign key of one of `tables` references `table.column`.
fn referenced(tables: &[TableDef], table: &str, column: &str) -> bool {
    tables.iter().flat_map(|t| &t.columns).any(|c| {
        c.references
            .as_ref()
            .is_some_and(|r| r.table == table && r.column == column)
    })
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

/// No foreign key of the models points at a recorded table the models
/// leave out: that model was forgotten in the list, and its table would be
/// dropped with its rows. (A table no migration here made, managed
/// elsewhere, may be referenced.)
fn check_references(recorded: &SchemaState, target: &SchemaState) -> Result<()> {
    for table in &target.tables {
        for column in &table.columns {
            let Some(to) = &column.references else {
                continue;
            };
            if target.table(&to.table).is_none() && recorded.table(&to.table).is_some() {
                return Err(unsupported(
                    &table.name,
                    &column.name,
                    &format!(
                        "it references table {}, whose model is not among the models listed; add that model to orm_core::models![...] (a model left out would be dropped with its rows)",
                        to.table
                    ),
                ));
            }
        }
    }
    Ok(())
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
