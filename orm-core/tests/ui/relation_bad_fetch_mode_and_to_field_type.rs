use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
#[orm(fetch_mode = "eager")]
struct User {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(unique)]
    username: String,
}

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(to_field = "username")]
    owner: ForeignKey<User>,
    #[orm(fetch_mode = "lazy")]
    editor: ForeignKey<User>,
}

fn main() {}
