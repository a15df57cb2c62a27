use orm_core::prelude::*;

// An OrmEnum has at least one variant and no generics; it is an enum.
#[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]
enum Nothing {}

#[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]
enum Wrapped<T> {
    One,
    Two(T),
}

#[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]
struct Status {
    draft: bool,
}

fn main() {}
