use orm_core::prelude::*;

// A variant with fields, two variants stored alike, a key on the enum
// (a model using it reports nothing more).
#[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]
#[orm(storage = "integer")]
enum Bad {
    Tuple(i32),
    #[orm(value = "same")]
    One,
    #[orm(value = "same")]
    Two,
}

#[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]
enum Status {
    Draft,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NotDerived {
    A,
}

#[derive(Model)]
struct Task {
    #[orm(primary_key)]
    id: Option<i64>,
    // Not an enum.
    #[orm(choices)]
    count: i32,
    // An unknown storage.
    #[orm(choices = "json")]
    status: Status,
    // A key that does not apply.
    #[orm(choices, max_length = 5)]
    again: Status,
}

#[derive(Model)]
struct Other {
    #[orm(primary_key)]
    id: Option<i64>,
    // An enum without #[derive(OrmEnum)].
    #[orm(choices)]
    kind: NotDerived,
    // An enum whose derive failed: no follow-up error.
    #[orm(choices)]
    bad: Bad,
}

fn main() {}
