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
    // The field is an i64; the key type says String.
    #[orm(to_field = "code")]
    owner: ForeignKey<User, String>,
}

fn main() {}
