// A `unique_together` naming a field that is not stored: the error lists
// the stored fields. A reverse side with a key type says which shape it
// takes.
use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
#[orm(unique_together = "name, missing")]
struct Group {
    #[orm(primary_key)]
    id: Option<i64>,
    name: String,
    #[orm(reverse_of = "groups")]
    members: ManyToMany<Member, i64>,
}

#[derive(Model, Clone, Default)]
struct Member {
    #[orm(primary_key)]
    id: Option<i64>,
    groups: ManyToMany<Group>,
}

fn main() {}
