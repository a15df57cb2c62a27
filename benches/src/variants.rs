//! Runs the variants of one data set the same way in every relation
//! benchmark: criterion's samples for each variant, then the paired rounds
//! ([`ratio::paired`]) that alternate them.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use orm_core::AnyConnection;

use crate::ratio::{self, timed};

/// A variant: its name and one iteration, which returns a checksum.
pub type Variant<R> = (&'static str, fn(&mut AnyConnection) -> R);

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

/// Benchmarks each variant on `conn` in the criterion group `group` (ids
/// `variant/n`, recorded under `key(variant)`), then, when every variant
/// was sampled, alternates them round by round (at least 10 rounds; 5 for
/// 100,000 rows). Data sets of 10,000 rows and more take flat samples after
/// a short warm-up, `large_measurement` per benchmark.
pub fn run<R>(
    c: &mut Criterion,
    group: &str,
    n: usize,
    conn: &mut AnyConnection,
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
        let mut routine = || routine(&mut *conn);
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
            black_box(variants[v].1(&mut *conn));
        });
    }
}
