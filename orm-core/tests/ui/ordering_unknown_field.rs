use orm_core::prelude::*;

#[derive(Model)]
#[orm(ordering = "-published, id")]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    pub_date: String,
}

fn main() {}
