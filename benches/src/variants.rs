//! Runs the variants of one data set the same way in every relation
//! benchmark: criterion's samples for each variant, then the paired rounds
//! ([`ratio::paired`]) that alternate them. A variant runs on the ORM's
//! `AnyConnection` (the ORM paths and hand-written diesel on it) or on a
//! typed diesel connection ([`TypedConn`], the headline baseline).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use orm_core::AnyConnection;

use crate::ratio::{self, timed};
use crate::typed::TypedConn;

/// One iteration of a variant, on the connection it runs on; it returns a
/// checksum.
pub enum Routine<R> {
    /// On the ORM's `AnyConnection`: the ORM, or diesel through it.
    Any(fn(&mut AnyConnection) -> R),
    /// Hand-written diesel on a typed connection: the connection
    /// [`TypedConn::on`] gives, matched with [`on_typed!`](crate::on_typed).
    Typed(fn(&mut AnyConnection) -> R),
}

impl<R> Clone for Routine<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Routine<R> {}

impl<R> Routine<R> {
    /// Runs one iteration on the connection the routine takes.
    pub fn call(self, conn: &mut AnyConnection, typed: &mut TypedConn) -> R {
        match self {
            Routine::Any(f) => f(conn),
            Routine::Typed(f) => f(typed.on(conn)),
        }
    }
}

/// A variant: its name and one iteration.
pub type Variant<R> = (&'static str, Routine<R>);

/// How long the paired rounds of one data set run.
pub const PAIRED_BUDGET: Duration = Duration::from_secs(5);

/// Criterion samples per benchmark for a data set of `n` rows.
pub fn sample_size(n: usize) -> usize {
    if n >= 10_000 {
        10
    } else if n >= 1_000 {
        20
    } else {
        30
    }
}

/// Benchmarks each variant on `conn` or `typed` in the criterion group `group` (ids
/// `variant/n`, recorded under `key(variant)`), then, when every variant
/// was sampled, alternates them round by round (at least 10 rounds; 5 for
/// 100,000 rows). Data sets of 10,000 rows and more take flat samples after
/// a short warm-up, `large_measurement` per benchmark.
pub fn run<R>(
    c: &mut Criterion,
    group: &str,
    n: usize,
    (conn, typed): (&mut AnyConnection, &mut TypedConn),
    variants: &[Variant<R>],
    key: impl Fn(&str) -> String,
    large_measurement: Duration,
) {
    let samples = sample_size(n);
    let mut criterion_group = c.benchmark_group(group);
    criterion_group.sample_size(samples);
    if n >= 10_000 {
        criterion_group
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(large_measurement);
    }
    for &(name, routine) in variants {
        let k = key(name);
        let mut routine = || routine.call(&mut *conn, &mut *typed);
        criterion_group.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter_custom(|iters| timed(&k, samples, iters, &mut routine))
        });
    }
    criterion_group.finish();

    let keys: Vec<String> = variants.iter().map(|(name, _)| key(name)).collect();
    if keys.iter().all(|k| ratio::sampled(k)) {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let min_rounds = if n >= 100_000 { 5 } else { 10 };
        ratio::paired(&keys, PAIRED_BUDGET, min_rounds, |v| {
            black_box(variants[v].1.call(&mut *conn, &mut *typed));
        });
    }
}
