use orm_core::prelude::*;
use std::collections::HashMap;

#[derive(Model)]
struct Question {
    #[orm(primary_key)]
    id: Option<i64>,
    tags: HashMap<String, String>,
}

fn main() {}
