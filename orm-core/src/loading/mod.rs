//! Loading relations for many rows at once: typed paths, `prefetch_related`
//! (one query per hop) and `select_related` (one query with joins); and
//! filters and orderings across a relation (`filter_related`,
//! `order_by_related`).

pub(crate) mod joins;
mod lookups;
mod order;
mod path;
mod prefetch;
mod prefetch_query;

pub use joins::{JoinPath, SelectPath, Then};
pub use path::{Path, Rel, RelationKind, RelationVisitor, Relations, ToOne, ToOneRel, Writable};
pub use prefetch_query::Prefetch;
