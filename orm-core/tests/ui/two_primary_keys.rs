use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(primary_key)]
    code: String,
}

fn main() {}
