use orm_core::prelude::*;

// Rows a write leaves in a relation cache are sorted in Rust by the
// model's ordering: its fields need `PartialOrd` (a JSON value has none).
#[derive(Model)]
#[orm(ordering = "data, id")]
struct Event {
    #[orm(primary_key)]
    id: Option<i64>,
    data: serde_json::Value,
}

fn main() {}
