use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(to_field = "id")]
    author: i64,
    #[orm(null)]
    note: String,
    #[orm(through_table = "question_tags")]
    tags: i64,
}

fn main() {}
