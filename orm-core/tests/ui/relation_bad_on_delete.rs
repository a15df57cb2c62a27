use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    text: String,
}

#[derive(Model)]
struct Choice {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(on_delete = "explode")]
    question: ForeignKey<Question>,
    #[orm(on_delete = "set_null")]
    other: ForeignKey<Question>,
}

fn main() {}
