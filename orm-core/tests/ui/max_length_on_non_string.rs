use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(max_length = 10)]
    votes: i32,
}

fn main() {}
