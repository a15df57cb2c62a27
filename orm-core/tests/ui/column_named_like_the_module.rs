// diesel refuses a column named like its table module; a unique_together
// naming a field twice.
use orm_core::prelude::*;

#[derive(Model, Debug, Clone, Default)]
#[orm(unique_together = "tag, tag")]
pub struct Tag {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub tag: String,
}

fn main() {}
