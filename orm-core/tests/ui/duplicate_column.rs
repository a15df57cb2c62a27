use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(column = "text")]
    title: String,
    #[orm(column = "text")]
    body: String,
}

fn main() {}
