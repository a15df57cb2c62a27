use orm_core::prelude::*;

// A model maps one concrete table: no generics, no unions.
#[derive(Model)]
struct Page<T> {
    #[orm(primary_key)]
    id: Option<i64>,
    body: T,
}

#[derive(Model)]
union Bits {
    small: i32,
    large: i64,
}

// A primary key is an integer or text (or Uuid), an auto key an Option.
#[derive(Model)]
struct Reading {
    #[orm(primary_key)]
    id: f64,
}

// A skipped field is not stored: column attributes on it are mistakes.
#[derive(Model)]
struct Draft {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(skip, max_length = 10)]
    scratch: String,
}

fn main() {}
