use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
pub struct Author {
    #[orm(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model, Clone, Default)]
pub struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    author: ForeignKey<Author>,
    #[orm(reverse_of = "question")]
    choices: Related<Choice>,
}

#[derive(Model, Clone, Default)]
pub struct Choice {
    #[orm(primary_key)]
    id: Option<i64>,
    question: ForeignKey<Question>,
}

fn main() {
    // A to-many relation would repeat rows: to-one relations only.
    let _ = Question::objects().order_by_related(Question::CHOICES, choice::id.asc());
    // The ordering must be on the related table.
    let _ = Question::objects().order_by_related(Question::AUTHOR, question::id.asc());
}
