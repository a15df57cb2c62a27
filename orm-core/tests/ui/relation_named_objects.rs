// A relation's accessor would clash with the generated `objects()`.
use orm_core::prelude::*;

#[derive(Model, Debug, Clone, Default)]
pub struct Shelf {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(reverse_of = "shelf")]
    pub objects: Related<Item>,
}

#[derive(Model, Debug, Clone, Default)]
pub struct Item {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub shelf: ForeignKey<Shelf>,
}

fn main() {}
