//! The migrations folder: each operations file records the migration it
//! was made after; files written before that was recorded still replay.

use orm_core::prelude::*;
use orm_core::BackendKind;
use orm_migrations::{MigrationsDir, OPERATIONS_FILE};

mod first {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }
}

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "item")]
pub struct Item {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub title: Option<String>,
}

fn json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_migration_records_the_one_it_was_made_after_and_older_files_still_replay() {
    let root = std::env::temp_dir().join(format!("orm-folder-{}", std::process::id()));
    let dir = MigrationsDir::new(&root);
    let make = |models: &orm_core::Models, name: &str| {
        dir.make(models, Some(name), &[BackendKind::Sqlite])
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{name}: no changes"))
    };
    let initial = make(&orm_core::models![first::Item], "initial");
    let file = initial.paths[0].join(OPERATIONS_FILE);
    assert_eq!(json(&file)["after"], serde_json::Value::Null);
    // Written as before parents were recorded: the operations alone.
    let operations = json(&file)["operations"].to_string();
    std::fs::write(&file, operations).unwrap_or_else(|e| panic!("{e}"));
    let next = make(&orm_core::models![Item], "title");
    assert_eq!(
        json(&next.paths[0].join(OPERATIONS_FILE))["after"],
        initial.name.as_str()
    );
    assert!(dir.recorded_state().is_ok());
    assert!(dir
        .make(&orm_core::models![Item], None, &[BackendKind::Sqlite])
        .is_ok_and(|made| made.is_none()));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_version_after_the_newest_is_one_second_later_as_a_time() {
    let root = std::env::temp_dir().join(format!("orm-folder-next-{}", std::process::id()));
    let dir = MigrationsDir::new(&root);
    let make = |models: &orm_core::Models, name: &str| {
        dir.make(models, Some(name), &[BackendKind::Sqlite])
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{name}: no changes"))
    };
    let initial = make(&orm_core::models![first::Item], "initial");
    // The newest version is the last second of a day in the future.
    let path = &initial.paths[0];
    let future = path.with_file_name("2999-12-31-235959_initial");
    std::fs::rename(path, &future).unwrap_or_else(|e| panic!("{e}"));
    let next = make(&orm_core::models![Item], "title");
    assert!(next.name.starts_with("3000-01-01-000000_"), "{}", next.name);
    let _ = std::fs::remove_dir_all(&root);
}
