use orm_core::prelude::*;

#[derive(Model)]
struct Session {
    // Not a version.
    #[orm(primary_key, uuid = "v5")]
    id: Option<uuid::Uuid>,
    // Not a generated key.
    #[orm(uuid = "v4")]
    token: uuid::Uuid,
}

#[derive(Model)]
struct Local {
    #[orm(primary_key)]
    id: uuid::Uuid,
    // Only `DateTime<Utc>` has a column type.
    at: chrono::DateTime<chrono::Local>,
}

fn main() {}
