use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
pub struct User {
    #[orm(primary_key)]
    pub id: Option<i64>,
}

// The derive knows a relation by its type's name: through an alias it
// would be a plain column, so the alias is rejected.
type Author = ForeignKey<User>;

#[derive(Model)]
pub struct Book {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub author: Author,
}

fn main() {}
