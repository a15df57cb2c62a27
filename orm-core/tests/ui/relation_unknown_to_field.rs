use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
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
    #[orm(to_field = "usrname")]
    owner: ForeignKey<User, String>,
}

fn main() {}
