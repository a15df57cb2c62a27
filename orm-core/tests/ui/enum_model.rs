use orm_core::prelude::*;

#[derive(Model)]
enum Question {
    Open,
    Closed,
}

fn main() {}
