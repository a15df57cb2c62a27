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
