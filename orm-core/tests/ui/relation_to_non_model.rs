use orm_core::prelude::*;

// A local type, not `String`: rustc spells `String` in full when another
// crate of the build (with `--all-features`) has a type of that name, and
// the expected output must not depend on the features.
#[derive(Clone)]
struct NotAModel;

#[derive(Model)]
struct Choice {
    #[orm(primary_key)]
    id: Option<i64>,
    question: ForeignKey<NotAModel>,
}

fn main() {}
