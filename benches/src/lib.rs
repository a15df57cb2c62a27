//! Shared pieces of the criterion benchmarks in `benches/benches/`: a
//! counting allocator, a recorder that turns criterion's samples into
//! ORM / baseline ratios, the runner of a data set's variants, database
//! fixtures, typed diesel connections for the baselines a user would write
//! instead, and the two-hop workload (shared with the peak-RSS binary,
//! `src/bin/peers_rss.rs`). See `docs/benchmarks.md`.

pub mod alloc;
pub mod fixture;
pub mod ratio;
pub mod two_hop;
pub mod typed;
pub mod variants;
