use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct User {
    #[orm(primary_key)]
    id: Option<i64>,
    // Not unique: a join on it could repeat rows.
    nickname: String,
}

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(to_field = "nickname")]
    owner: ForeignKey<User, String>,
}

fn main() {}
