//! What `diff` decides from the models alone (no database).

use orm_core::prelude::*;
use orm_migrations::{diff, MigrationError, Operation, SchemaState};

mod before {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub title: String,
    }
}

fn recorded() -> SchemaState {
    SchemaState::of(&orm_core::models![before::Item])
}

#[test]
fn the_same_models_need_nothing() {
    let ops = diff(&recorded(), &orm_core::models![before::Item]).unwrap_or_default();
    assert_eq!(ops, []);
}

#[test]
fn a_new_name_without_a_hint_is_a_drop_and_an_add_never_a_guess() {
    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub name: Option<String>,
    }
    let ops = diff(&recorded(), &orm_core::models![Item]).unwrap_or_default();
    let described: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(
        described,
        ["add column item.name", "drop column item.title"]
    );
}

#[test]
fn renamed_from_renames() {
    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(renamed_from = "title")]
        pub name: String,
    }
    let ops = diff(&recorded(), &orm_core::models![Item]).unwrap_or_default();
    assert!(
        matches!(&ops[..], [Operation::RenameColumn { from, to, .. }] if from == "title" && to == "name"),
        "{ops:?}"
    );
    // Once recorded, the hint is inert.
    let after = SchemaState::of(&orm_core::models![Item]);
    assert_eq!(
        diff(&after, &orm_core::models![Item]).unwrap_or_default(),
        []
    );
}

#[test]
fn a_primary_key_change_is_refused() {
    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i32>,
        pub title: String,
    }
    let err = diff(&recorded(), &orm_core::models![Item]).unwrap_err();
    assert!(matches!(err, MigrationError::Unsupported { ref column, .. } if column == "id"));
    assert!(err.to_string().contains("hand-written migration"), "{err}");
}

#[test]
fn a_model_removed_drops_its_table_last() {
    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "other")]
    pub struct Other {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }
    let ops = diff(&recorded(), &orm_core::models![Other]).unwrap_or_default();
    let described: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(described, ["create table other", "drop table item"]);
}

/// A writer whose handle is not unique yet, and (`profiled`) made unique
/// with a profile pointing at it by handle, in one step.
mod handles {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "writer")]
    pub struct Writer {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 40)]
        pub handle: String,
    }
}

mod profiled {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "writer")]
    pub struct Writer {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 40, unique)]
        pub handle: String,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "profile")]
    pub struct Profile {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(to_field = "handle")]
        pub writer: ForeignKey<Writer, String>,
    }
}

#[test]
fn a_column_a_new_table_references_changes_first_and_back_last() {
    let described = |from: &orm_core::Models, to: &orm_core::Models| -> Vec<String> {
        let ops = diff(&SchemaState::of(from), to).unwrap_or_default();
        ops.iter().map(ToString::to_string).collect()
    };
    let (before, after) = (
        orm_core::models![handles::Writer],
        orm_core::models![profiled::Writer, profiled::Profile],
    );
    // The unique constraint before the foreign key that needs it...
    assert_eq!(
        described(&before, &after),
        ["alter column writer.handle", "create table profile"]
    );
    // ...and the table whose foreign key needs it dropped before it goes.
    assert_eq!(
        described(&after, &before),
        ["drop table profile", "alter column writer.handle"]
    );
}

#[test]
fn a_model_left_out_of_the_list_is_refused_not_dropped() {
    let all = SchemaState::of(&orm_core::models![profiled::Writer, profiled::Profile]);
    let result = diff(&all, &orm_core::models![profiled::Profile]);
    assert!(
        matches!(&result, Err(MigrationError::Unsupported { table, column, reason })
            if table == "profile" && column == "writer_id" && reason.contains("writer")),
        "{result:?}"
    );
    // A table no migration made (managed elsewhere) may be referenced.
    let ops = diff(
        &SchemaState::default(),
        &orm_core::models![profiled::Profile],
    );
    assert!(
        matches!(&ops.as_deref(), Ok([Operation::CreateTable(t)]) if t.name == "profile"),
        "{ops:?}"
    );
}

#[test]
fn a_foreign_key_renamed_from_its_previous_field_keeps_its_column() {
    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "profile")]
    pub struct Profile {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(to_field = "handle", renamed_from = "writer")]
        pub author: ForeignKey<profiled::Writer, String>,
    }
    let recorded = SchemaState::of(&orm_core::models![profiled::Writer, profiled::Profile]);
    let ops = diff(&recorded, &orm_core::models![profiled::Writer, Profile]).unwrap_or_default();
    assert!(
        matches!(&ops[..], [Operation::RenameColumn { from, to, .. }] if from == "writer_id" && to == "author_id"),
        "{ops:?}"
    );
}

/// Pairs unique by `(a, b)`; then `b` dropped and `(a, c)` unique, `c` a
/// foreign key to a new table.
mod pairs {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "pair", unique_together = "a, b")]
    pub struct Pair {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub a: i32,
        pub b: i32,
    }
}

mod repaired {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "kind")]
    pub struct Kind {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "pair", unique_together = "a, c")]
    pub struct Pair {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub a: i32,
        #[orm(null)]
        pub c: ForeignKey<Kind>,
    }
}

#[test]
fn a_tables_changes_stay_in_their_order_after_the_table_one_needs() {
    let recorded = SchemaState::of(&orm_core::models![pairs::Pair]);
    let ops = diff(
        &recorded,
        &orm_core::models![repaired::Kind, repaired::Pair],
    )
    .unwrap_or_default();
    let described: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(
        described,
        [
            "create table kind",
            "add column pair.c_id",
            "alter unique_together of pair",
            "drop column pair.b"
        ]
    );
}

/// A post with tags, then the post's table and its tags field renamed in
/// one step.
mod posts {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "label")]
    pub struct Label {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "post")]
    pub struct Post {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub tags: ManyToMany<Label>,
    }
}

mod articles {
    use orm_core::prelude::*;

    pub use super::posts::Label;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "article", renamed_from = "post")]
    pub struct Post {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(renamed_from = "tags")]
        pub labels: ManyToMany<Label>,
    }
}

#[test]
fn a_table_and_its_many_to_many_field_renamed_together_keep_the_links_table() {
    let recorded = SchemaState::of(&orm_core::models![posts::Label, posts::Post]);
    let ops = diff(
        &recorded,
        &orm_core::models![articles::Label, articles::Post],
    )
    .unwrap_or_default();
    let described: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(
        described,
        [
            "rename table post to article",
            "rename table post_tags to article_labels"
        ]
    );
}

#[test]
fn the_recorded_state_round_trips_through_json() {
    let state = recorded();
    let text = serde_json::to_string(&state).unwrap_or_default();
    let back: SchemaState = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(back, state);
}

/// Two branches each add a migration to the same base. Merged, the
/// recorded schema has both changes (the operations are replayed) when
/// they change different tables; when they change the same one, the later
/// migration's SQL does not know the other's change, and it is refused
/// until made again.
#[test]
fn migrations_from_two_branches_are_both_recorded_unless_they_change_one_table() {
    use orm_core::BackendKind;
    use orm_migrations::MigrationsDir;

    mod with_note {
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "item")]
        pub struct Item {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub title: String,
            pub note: Option<String>,
        }
    }
    mod with_rank {
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "item")]
        pub struct Item {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub title: String,
            #[orm(default = 0)]
            pub rank: i32,
        }
    }
    mod shelf {
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "shelf")]
        pub struct Shelf {
            #[orm(primary_key)]
            pub id: Option<i64>,
        }
    }

    let root = std::env::temp_dir().join(format!("orm-branches-{}", std::process::id()));
    let sqlite = [BackendKind::Sqlite];
    let made = |dir: &std::path::Path, models: &orm_core::Models, name: &str| {
        MigrationsDir::new(dir)
            .make(models, Some(name), &sqlite)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{name}: no changes"))
    };
    // The branch starts from main's base and makes its migration; main
    // makes one later (versions have seconds, and one made in the same
    // second as the base is a second after it); then the branch is
    // merged: its migration comes first.
    let merged = |case: &str, branch_models: &orm_core::Models| {
        let (main, branch) = (root.join(case).join("main"), root.join(case).join("branch"));
        made(&main, &orm_core::models![before::Item], "initial");
        copy_dir(&main, &branch);
        let theirs = made(&branch, branch_models, "theirs");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let ours = made(&main, &orm_core::models![with_note::Item], "note");
        copy_dir(
            &branch.join("sqlite").join(&theirs.name),
            &main.join("sqlite").join(&theirs.name),
        );
        (MigrationsDir::new(&main), theirs.name, ours.name)
    };

    // Different tables: both recorded, nothing pending.
    let (dir, _, _) = merged("apart", &orm_core::models![before::Item, shelf::Shelf]);
    let pending = orm_migrations::check(&dir, &orm_core::models![with_note::Item, shelf::Shelf])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending, Vec::<String>::new());

    // The same table: main's migration is refused, naming the branch's.
    let (dir, theirs, ours) = merged("together", &orm_core::models![with_rank::Item]);
    match orm_migrations::check(&dir, &orm_core::models![with_note::Item]) {
        Err(MigrationError::Conflict {
            migration, between, ..
        }) => {
            assert_eq!((migration, between), (ours, theirs));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
