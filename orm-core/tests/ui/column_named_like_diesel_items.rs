// Fields whose diesel columns clash with the items `diesel::table!` makes.
use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Booking {
    #[orm(primary_key)]
    id: Option<i64>,
    table: i32,
    star: i16,
    dsl: String,
}

fn main() {}
