use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(to_field = "id")]
    author: i64,
}

fn main() {}
