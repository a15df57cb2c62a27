use orm_core::prelude::*;

#[derive(Model)]
#[orm(tabel = "questions", ordering = "nope")]
struct Question {
    id: Option<i64>,
    #[orm(uniq)]
    text: String,
    votes: u64,
}

fn main() {}
