use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
pub struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
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
    // A reverse foreign key cannot be joined: prefetch it instead.
    let _ = Question::objects().select_related(Question::CHOICES);
    // Nor can a forward path that continues with one.
    let _ = Choice::objects().select_related(Choice::QUESTION.then(Question::CHOICES));
}
