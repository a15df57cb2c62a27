//! Models and helpers shared by the integration tests, the example and the
//! benchmarks.

pub mod harness;
pub mod polls;
