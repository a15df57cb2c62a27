use orm_core::prelude::*;

#[derive(Model)]
#[orm(table = questions)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    text: String,
}

fn main() {}
