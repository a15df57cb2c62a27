use orm_core::prelude::*;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    code: Option<String>,
    text: String,
}

fn main() {}
