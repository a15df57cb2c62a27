use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(reverse_of = "question")]
    choices: Related<Choice>,
    #[orm(reverse_of = "question")]
    answers: Related<Choice>,
}

#[derive(Model, Clone, Default)]
struct Choice {
    #[orm(primary_key)]
    id: Option<i64>,
    question: ForeignKey<Question>,
}

fn main() {}
