use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    votes: u64,
}

fn main() {}
