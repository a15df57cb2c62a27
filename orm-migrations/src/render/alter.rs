//! PostgreSQL and MySQL/MariaDB: each operation as `ALTER TABLE`
//! statements.

use orm_core::schema::ddl::{
    column_definition, column_type, constraints, create_index, create_table, drop_foreign_key,
    foreign_key_constraint, literal, names, quote, unique_constraint, unique_together,
};
use orm_core::schema::{ColumnDef, TableDef};
use orm_core::BackendKind;

use super::{drop_table, renames};
use crate::operation::Operation;
use crate::state::SchemaState;

pub fn statements(backend: BackendKind, op: &Operation, state: &SchemaState) -> Vec<String> {
    let q = |ident: &str| quote(backend, ident);
    let alter = |table: &str, change: String| format!("ALTER TABLE {} {change}", q(table));
    match op {
        Operation::CreateTable(table) => create_table(backend, table),
        Operation::DropTable(table) => {
            // Another table's foreign key to it (tables referencing each
            // other, dropped together) goes first.
            let mut out: Vec<String> = state
                .tables
                .iter()
                .filter(|other| other.name != table.name)
                .flat_map(|other| {
                    other
                        .columns
                        .iter()
                        .filter(|c| c.references.as_ref().is_some_and(|r| r.table == table.name))
                        .map(|c| drop_foreign_key(backend, &other.name, &c.name))
                })
                .collect();
            out.push(drop_table(backend, &table.name));
            out
        }
        Operation::RenameTable { from, to } => {
            let mut out = vec![alter(from, format!("RENAME TO {}", q(to)))];
            // The table as renamed: its own foreign keys to itself name
            // the new table too (MySQL adds them again).
            let mut renamed = state.clone();
            op.apply(&mut renamed);
            if let (Some(before), Some(after)) = (state.table(from), renamed.table(to)) {
                out.extend(renames::statements(backend, before, after));
            }
            out
        }
        Operation::AddColumn { table, column } => {
            let mut out = vec![alter(
                table,
                format!("ADD COLUMN {}", column_definition(backend, table, column)),
            )];
            // The index first: a MySQL foreign key then uses it.
            out.extend(create_index(backend, table, column));
            out.extend(
                constraints(backend, table, column)
                    .into_iter()
                    .map(|c| alter(table, format!("ADD {c}"))),
            );
            out
        }
        Operation::DropColumn { table, column } => {
            let mut out = Vec::new();
            if backend == BackendKind::Mysql && column.references.is_some() {
                out.push(drop_foreign_key(backend, table, &column.name));
            }
            out.push(alter(table, format!("DROP COLUMN {}", q(&column.name))));
            out
        }
        Operation::RenameColumn { table, from, to } => {
            let mut out = vec![alter(
                table,
                format!("RENAME COLUMN {} TO {}", q(from), q(to)),
            )];
            if let Some(before) = state.table(table) {
                let mut after = before.clone();
                for c in after.columns.iter_mut().filter(|c| &c.name == from) {
                    c.name = to.clone();
                }
                for c in after.unique_together.iter_mut().filter(|c| *c == from) {
                    *c = to.clone();
                }
                out.extend(renames::statements(backend, before, &after));
            }
            out
        }
        Operation::AlterColumn { table, from, to } => alter_column(backend, table, from, to),
        Operation::AlterUniqueTogether { table, from, to } => {
            let mut out = Vec::new();
            if !from.is_empty() {
                let name = q(&names::unique_together(table, from));
                out.push(alter(
                    table,
                    match backend {
                        BackendKind::Mysql => format!("DROP INDEX {name}"),
                        _ => format!("DROP CONSTRAINT {name}"),
                    },
                ));
            }
            let after = TableDef {
                name: table.clone(),
                columns: Vec::new(),
                unique_together: to.clone(),
            };
            out.extend(unique_together(backend, &after).map(|c| alter(table, format!("ADD {c}"))));
            out
        }
    }
}

/// The default a column made NOT NULL fills its NULLs with (`diff`
/// refuses that change without one).
pub(super) fn filled_default<'c>(from: &ColumnDef, to: &'c ColumnDef) -> Option<&'c str> {
    (from.nullable && !to.nullable)
        .then_some(to.default.as_deref())
        .flatten()
}

/// Drops what changed of the old column's constraints and index, changes
/// the column itself, then adds the new constraints and index.
fn alter_column(
    backend: BackendKind,
    table: &str,
    from: &ColumnDef,
    to: &ColumnDef,
) -> Vec<String> {
    let q = |ident: &str| quote(backend, ident);
    let alter = |change: String| format!("ALTER TABLE {} {change}", q(table));
    let mysql = backend == BackendKind::Mysql;
    let mut out = Vec::new();
    // Made NOT NULL: the rows where it is NULL take the default, once the
    // column has its new type (the default is of that type) and before
    // it refuses NULL.
    let fill = filled_default(from, to).map(|default| {
        let column = q(&to.name);
        format!(
            "UPDATE {} SET {column} = {} WHERE {column} IS NULL",
            q(table),
            literal(backend, default)
        )
    });
    let retyped = column_type(backend, from) != column_type(backend, to);

    let unique_changed = (from.unique && !from.primary_key) != (to.unique && !to.primary_key);
    let index_changed = create_index(backend, table, from) != create_index(backend, table, to);
    let drops_index = (unique_changed && from.unique)
        || (index_changed && create_index(backend, table, from).is_some());
    // MySQL keeps a foreign key's column indexed and refuses to drop the
    // index it uses (error 1553): the foreign key goes first and comes
    // back after.
    let fk_changed = from.references != to.references
        || (mysql && drops_index && from.references.is_some() && to.references.is_some());
    if fk_changed && from.references.is_some() {
        out.push(drop_foreign_key(backend, table, &from.name));
    }
    if unique_changed && from.unique {
        let name = q(&names::unique(table, &from.name));
        out.push(alter(if mysql {
            format!("DROP INDEX {name}")
        } else {
            format!("DROP CONSTRAINT {name}")
        }));
    }
    if index_changed && create_index(backend, table, from).is_some() {
        let name = q(&names::index(table, &from.name));
        out.push(if mysql {
            format!("DROP INDEX {name} ON {}", q(table))
        } else {
            format!("DROP INDEX {name}")
        });
    }

    let column = q(&to.name);
    if mysql {
        // MODIFY restates the whole column: type, NULL, default and CHECK.
        let definition = |c: &ColumnDef| {
            column_definition(
                backend,
                table,
                &ColumnDef {
                    primary_key: false,
                    ..c.clone()
                },
            )
        };
        if let Some(fill) = fill {
            if retyped {
                // The new type, still nullable, then the fill.
                let nullable = ColumnDef {
                    nullable: true,
                    default: None,
                    ..to.clone()
                };
                out.push(alter(format!("MODIFY COLUMN {}", definition(&nullable))));
            }
            out.push(fill);
        }
        if definition(from) != definition(to) {
            out.push(alter(format!("MODIFY COLUMN {}", definition(to))));
        }
    } else {
        let new_type = column_type(backend, to);
        // PostgreSQL casts the default with the column and refuses when it
        // cannot (a text default on an integer column): drop it first.
        let default_dropped = retyped && from.default.is_some();
        if default_dropped {
            out.push(alter(format!("ALTER COLUMN {column} DROP DEFAULT")));
        }
        if retyped {
            // Within one kind (a text's length) the assignment cast
            // refuses a value that does not fit; an explicit cast
            // (`USING`) would cut it silently.
            out.push(alter(if from.kind == to.kind {
                format!("ALTER COLUMN {column} TYPE {new_type}")
            } else {
                format!("ALTER COLUMN {column} TYPE {new_type} USING {column}::{new_type}")
            }));
        }
        out.extend(fill);
        if from.nullable != to.nullable {
            let change = if to.nullable { "DROP" } else { "SET" };
            out.push(alter(format!("ALTER COLUMN {column} {change} NOT NULL")));
        }
        match &to.default {
            Some(value) if default_dropped || from.default != to.default => {
                out.push(alter(format!("ALTER COLUMN {column} SET DEFAULT {value}")));
            }
            None if from.default.is_some() && !default_dropped => {
                out.push(alter(format!("ALTER COLUMN {column} DROP DEFAULT")));
            }
            _ => {}
        }
        if from.choices != to.choices {
            let name = q(&names::check(table, &to.name));
            out.push(alter(format!("DROP CONSTRAINT IF EXISTS {name}")));
            if let Some(choices) = &to.choices {
                out.push(alter(format!(
                    "ADD CONSTRAINT {name} CHECK ({column} IN ({choices}))"
                )));
            }
        }
    }

    if index_changed {
        out.extend(create_index(backend, table, to));
    }
    let added = [
        unique_constraint(backend, table, to).filter(|_| unique_changed),
        foreign_key_constraint(backend, table, to).filter(|_| fk_changed),
    ];
    out.extend(
        added
            .into_iter()
            .flatten()
            .map(|c| alter(format!("ADD {c}"))),
    );
    out
}
