use orm_core::prelude::*;

#[derive(Model)]
struct Question(Option<i64>, String);

fn main() {}
