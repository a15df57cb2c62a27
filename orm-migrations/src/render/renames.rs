//! Renaming the constraints and indexes whose names derive from a table or
//! column name, after the table or column is renamed.

use orm_core::schema::ddl::{create_index, foreign_key_constraint, names, quote};
use orm_core::schema::TableDef;
use orm_core::BackendKind;

/// One derived name: what it names and its name before and after.
struct Renamed {
    kind: Kind,
    old: String,
    new: String,
    /// The column position, for foreign keys re-added on MySQL.
    column: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
    Index,
    Check,
    UniqueTogether,
}

/// Statements giving `after`'s constraints and indexes the names derived
/// from its new table or column names. `before` and `after` are the same
/// table with only names changed (columns in the same order).
pub fn statements(backend: BackendKind, before: &TableDef, after: &TableDef) -> Vec<String> {
    let q = |ident: &str| quote(backend, ident);
    let table = q(&after.name);
    let mut out = Vec::new();
    for r in derived(before, after) {
        let (old, new) = (q(&r.old), q(&r.new));
        match (backend, r.kind) {
            (BackendKind::Postgres, Kind::Index) => {
                out.push(format!("ALTER INDEX {old} RENAME TO {new}"))
            }
            (BackendKind::Postgres, _) => out.push(format!(
                "ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}"
            )),
            (BackendKind::Mysql, Kind::ForeignKey) => {
                let column = &after.columns[r.column];
                out.push(format!("ALTER TABLE {table} DROP FOREIGN KEY {old}"));
                out.extend(
                    foreign_key_constraint(backend, &after.name, column)
                        .map(|c| format!("ALTER TABLE {table} ADD {c}")),
                );
            }
            (BackendKind::Mysql, Kind::Check) => {}
            (BackendKind::Mysql, _) => {
                out.push(format!("ALTER TABLE {table} RENAME INDEX {old} TO {new}"))
            }
            (BackendKind::Sqlite, Kind::Index) => {
                out.push(format!("DROP INDEX {old}"));
                out.extend(create_index(backend, &after.name, &after.columns[r.column]));
            }
            // SQLite's constraints live in the table's definition, which a
            // rebuild writes afresh.
            (BackendKind::Sqlite, _) => {}
        }
    }
    out
}

fn derived(before: &TableDef, after: &TableDef) -> Vec<Renamed> {
    let mut out = Vec::new();
    for (i, (b, a)) in before.columns.iter().zip(&after.columns).enumerate() {
        let mut push = |kind, old: String, new: String| {
            if old != new {
                out.push(Renamed {
                    kind,
                    old,
                    new,
                    column: i,
                });
            }
        };
        if a.unique && !a.primary_key {
            push(
                Kind::Unique,
                names::unique(&before.name, &b.name),
                names::unique(&after.name, &a.name),
            );
        }
        if a.references.is_some() {
            push(
                Kind::ForeignKey,
                names::foreign_key(&before.name, &b.name),
                names::foreign_key(&after.name, &a.name),
            );
        }
        if a.index && !a.unique && !a.primary_key {
            push(
                Kind::Index,
                names::index(&before.name, &b.name),
                names::index(&after.name, &a.name),
            );
        }
        if a.choices.is_some() {
            push(
                Kind::Check,
                names::check(&before.name, &b.name),
                names::check(&after.name, &a.name),
            );
        }
    }
    if !after.unique_together.is_empty() {
        let old = names::unique_together(&before.name, &before.unique_together);
        let new = names::unique_together(&after.name, &after.unique_together);
        if old != new {
            out.push(Renamed {
                kind: Kind::UniqueTogether,
                old,
                new,
                column: 0,
            });
        }
    }
    out
}
