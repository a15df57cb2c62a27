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

#[test]
fn the_recorded_state_round_trips_through_json() {
    let state = recorded();
    let text = serde_json::to_string(&state).unwrap_or_default();
    let back: SchemaState = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(back, state);
}

/// Two branches each add a migration to the same base; once both are
/// merged, the recorded schema has both changes (the operations are
/// replayed), so the models with both need no new migration.
#[test]
fn migrations_from_two_branches_are_both_recorded() {
    use orm_core::BackendKind;
    use orm_migrations::MigrationsDir;

    mod with_both {
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "item")]
        pub struct Item {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub title: String,
            pub note: Option<String>,
            #[orm(default = 0)]
            pub rank: i32,
        }
    }
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

    let root = std::env::temp_dir().join(format!("orm-branches-{}", std::process::id()));
    let (main, branch) = (root.join("main"), root.join("branch"));
    let sqlite = [BackendKind::Sqlite];
    let made = |dir: &std::path::Path, models: &orm_core::Models, name: &str| {
        MigrationsDir::new(dir)
            .make(models, Some(name), &sqlite)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{name}: no changes"))
    };
    made(&main, &orm_core::models![before::Item], "initial");
    // The branch starts from the same base, and adds `rank`...
    copy_dir(&main, &branch);
    let rank = made(&branch, &orm_core::models![with_rank::Item], "rank");
    // ... while main adds `note` (a second later: versions have seconds);
    // then the branch is merged.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    made(&main, &orm_core::models![with_note::Item], "note");
    copy_dir(
        &branch.join("sqlite").join(&rank.name),
        &main.join("sqlite").join(&rank.name),
    );

    let dir = MigrationsDir::new(&main);
    let pending = orm_migrations::check(&dir, &orm_core::models![with_both::Item])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending, Vec::<String>::new());
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
