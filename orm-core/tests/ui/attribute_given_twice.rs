// A key given twice would let the last one win silently.
use orm_core::prelude::*;

#[derive(Model, Debug, Clone, Default)]
#[orm(unique_together = "a, b")]
#[orm(unique_together = "b, c")]
pub struct Triple {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub a: i32,
    #[orm(column = "bee", column = "b2")]
    pub b: i32,
    pub c: i32,
}

fn main() {}
