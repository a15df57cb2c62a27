use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    id: Option<i64>,
    text: String,
}

fn main() {}
