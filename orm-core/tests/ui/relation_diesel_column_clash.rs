use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Author {
    #[orm(primary_key)]
    id: Option<i64>,
    name: String,
}

#[derive(Model)]
struct Book {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(column = "writer")]
    author: ForeignKey<Author>,
    author_id: i64,
}

fn main() {}
