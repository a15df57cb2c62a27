use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct User {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(unique)]
    code: i64,
}

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: Option<i64>,
    // A field name, not a phrase.
    #[orm(to_field = "user code")]
    owner: ForeignKey<User, i64>,
}

fn main() {}
