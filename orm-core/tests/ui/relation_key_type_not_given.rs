// A relation to a model whose key is not an i64, without the key type:
// the error is on the target.
use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Author {
    #[orm(primary_key)]
    id: Option<i32>,
}

#[derive(Model, Clone, Default)]
struct Book {
    #[orm(primary_key)]
    id: Option<i64>,
    author: ForeignKey<Author>,
    coauthors: ManyToMany<Author>,
}

fn main() {}
