//! Shared pieces of the criterion benchmarks in `benches/benches/`: a
//! counting allocator, a recorder that turns criterion's samples into
//! ORM / baseline ratios, the runner of a data set's variants, and database
//! fixtures. See `docs/benchmarks.md`.

pub mod alloc;
pub mod fixture;
pub mod ratio;
pub mod variants;
