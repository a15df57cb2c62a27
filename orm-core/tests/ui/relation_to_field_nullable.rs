use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct User {
    #[orm(primary_key)]
    id: Option<i64>,
    // Unique, but NULL in some rows: not a key to join on.
    #[orm(unique)]
    email: Option<String>,
}

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(to_field = "email")]
    owner: ForeignKey<User, String>,
}

fn main() {}
