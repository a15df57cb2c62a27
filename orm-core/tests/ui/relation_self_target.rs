// `Self` as the other model of a relation: the generated code naming it is
// outside the model's impl.
use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
struct Category {
    #[orm(primary_key)]
    id: Option<i64>,
    #[orm(null)]
    parent: ForeignKey<Self>,
    related: ManyToMany<Self>,
    #[orm(reverse_of = "parent")]
    children: Related<Self>,
}

fn main() {}
