use orm_core::prelude::*;

// The derive rejects `tags`; everything below uses the model as if it were
// fine, and must add no error of its own.
#[derive(Model, Clone, Default)]
pub struct Question {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub text: String,
    pub tags: std::collections::HashSet<String>,
}

#[derive(Model, Clone, Default)]
pub struct Choice {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub question: ForeignKey<Question>,
}

fn main() {
    let _ = Question::objects().filter(question::text.eq("x"));
    let _ = Question::meta();
    let _: Option<i64> = Question::default().pk();
    let _ = Choice::objects().select_related(Choice::QUESTION);
}
