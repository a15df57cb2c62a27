use orm_core::prelude::*;

#[derive(Model)]
struct Choice {
    #[orm(primary_key)]
    id: Option<i64>,
    question: ForeignKey<String>,
}

fn main() {}
