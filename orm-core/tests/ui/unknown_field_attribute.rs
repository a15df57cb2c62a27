use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(uniq)]
    text: String,
}

fn main() {}
