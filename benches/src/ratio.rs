//! Records the samples criterion takes, so a benchmark binary can print the
//! ratio of each ORM path to its baseline measured in the same run.
//!
//! A benchmark times its routine with [`timed`] inside criterion's
//! `iter_custom`; every call is recorded under the benchmark's key.
//! Criterion first warms up (calls with 1, 2, 4... iterations), then takes
//! its samples: the last `sample_size` calls. [`estimate`] keeps those and
//! returns the median time per iteration (and the mean), so ratios come
//! from exactly the samples criterion analysed, in this process.
//!
//! Criterion runs one benchmark after the other, so on a loaded machine
//! (two cores shared with compilers, test suites and the database server)
//! the load can change between an ORM path and its baseline. [`paired`]
//! complements it: it alternates the ORM paths and the baseline round by
//! round and takes the median of the per-round ratios, which cancels load
//! that changes slower than a round. [`report`] prints both. The paired
//! ratios are kept for every pair of variants of a round, so one run gives
//! ORM / typed diesel (the headline), AnyConnection diesel / typed diesel
//! (what MultiConnection dispatch costs) and ORM / AnyConnection diesel.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use orm_core::BackendKind;

struct Series {
    sample_size: usize,
    calls: Vec<(u64, Duration)>,
}

static SAMPLES: Mutex<BTreeMap<String, Series>> = Mutex::new(BTreeMap::new());

/// Paired ratios (variant / baseline), by the keys of the variant and of
/// the baseline.
static PAIRED: Mutex<BTreeMap<(String, String), Paired>> = Mutex::new(BTreeMap::new());

/// A ratio from [`paired`] rounds.
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    /// Median over rounds of (variant time / baseline time).
    pub ratio: f64,
    /// First and third quartiles of the per-round ratios.
    pub quartiles: (f64, f64),
    /// How many rounds.
    pub rounds: usize,
}

/// Runs `routine` `iters` times (its result goes through `black_box`),
/// records the elapsed time under `key` and returns it, for criterion's
/// `iter_custom`.
///
/// ```ignore
/// group.bench_function(id, |b| b.iter_custom(|iters| timed(&key, 20, iters, &mut routine)));
/// ```
#[inline(never)]
pub fn timed<R>(
    key: &str,
    sample_size: usize,
    iters: u64,
    routine: &mut impl FnMut() -> R,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(routine());
    }
    let elapsed = start.elapsed();
    let mut samples = SAMPLES.lock().unwrap_or_else(PoisonError::into_inner);
    let series = samples.entry(key.to_owned()).or_insert_with(|| Series {
        sample_size,
        calls: Vec::new(),
    });
    series.sample_size = sample_size;
    series.calls.push((iters, elapsed));
    elapsed
}

/// Time per iteration of one benchmark, over criterion's samples.
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// Median over the samples of (sample time / sample iterations), in ns.
    pub median_ns: f64,
    /// Total time / total iterations over the samples, in ns.
    pub mean_ns: f64,
    /// How many samples.
    pub samples: usize,
}

/// The estimate for `key`, or `None` when it did not run (filtered out).
pub fn estimate(key: &str) -> Option<Estimate> {
    let samples = SAMPLES.lock().unwrap_or_else(PoisonError::into_inner);
    let series = samples.get(key)?;
    let take = series.sample_size.min(series.calls.len()).max(1);
    let calls = &series.calls[series.calls.len().saturating_sub(take)..];
    let mut per_iter: Vec<f64> = calls
        .iter()
        .map(|(iters, elapsed)| elapsed.as_secs_f64() * 1e9 / (*iters).max(1) as f64)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    // The middle element, or the mean of the two middle ones.
    let len = per_iter.len();
    let median_ns = (per_iter[(len - 1) / 2] + per_iter[len / 2]) / 2.0;
    let total_ns: f64 = calls.iter().map(|(_, e)| e.as_secs_f64() * 1e9).sum();
    let total_iters: u64 = calls.iter().map(|(i, _)| *i).sum();
    Some(Estimate {
        median_ns,
        mean_ns: total_ns / total_iters.max(1) as f64,
        samples: calls.len(),
    })
}

/// Whether criterion took real samples of `key` (not filtered out, not a
/// `--test` run, which calls each routine once).
pub fn sampled(key: &str) -> bool {
    SAMPLES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .is_some_and(|s| s.calls.len() > 1)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Alternates variants: each round times `routine(v)` once for every
/// variant `v` in `0..keys.len()` (the order rotating from round to round),
/// for about `budget` and at least `min_rounds` rounds. A routine for a
/// nanosecond path runs its own batch of accesses in a loop (the same
/// count for every variant). For every pair of variants, the median over
/// rounds of one's time divided by the other's time in the same round is
/// stored under both keys, for [`paired_ratio`] and [`report`]; the ratios
/// of every other variant against variant 0 are returned.
pub fn paired(
    keys: &[&str],
    budget: Duration,
    min_rounds: usize,
    mut routine: impl FnMut(usize),
) -> Vec<Paired> {
    let variants = keys.len();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants];
    let start = Instant::now();
    let mut round = 0;
    while round < min_rounds.max(1) || start.elapsed() < budget {
        for offset in 0..variants {
            let v = (round + offset) % variants;
            let t = Instant::now();
            routine(v);
            times[v].push(t.elapsed().as_secs_f64());
        }
        round += 1;
    }
    let mut results = Vec::new();
    let mut stored = PAIRED.lock().unwrap_or_else(PoisonError::into_inner);
    for (b, base_key) in keys.iter().enumerate() {
        for (v, key) in keys.iter().enumerate() {
            if v == b {
                continue;
            }
            let mut ratios: Vec<f64> = times[v]
                .iter()
                .zip(&times[b])
                .map(|(t, base)| t / base)
                .collect();
            ratios.sort_by(f64::total_cmp);
            let p = Paired {
                ratio: quantile(&ratios, 0.5),
                quartiles: (quantile(&ratios, 0.25), quantile(&ratios, 0.75)),
                rounds: ratios.len(),
            };
            stored.insert(((*key).to_owned(), (*base_key).to_owned()), p);
            if b == 0 {
                results.push(p);
            }
        }
    }
    results
}

/// The paired ratio of the benchmark `key` against `baseline`, when both
/// ran in the same paired rounds.
pub fn paired_ratio(key: &str, baseline: &str) -> Option<Paired> {
    PAIRED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(key.to_owned(), baseline.to_owned()))
        .copied()
}

/// Formats nanoseconds with a unit and 3 significant digits.
pub fn fmt_ns(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

/// One line of a ratio report: an ORM path against its baseline.
pub struct Comparison {
    /// What is compared (`peers, SQLite, N = 1000`).
    pub label: String,
    /// The key of the ORM benchmark.
    pub orm: String,
    /// The key of the baseline benchmark.
    pub baseline: String,
    /// The target ratio (ORM / baseline) from the design brief, if any.
    pub target: Option<f64>,
}

/// The comparisons of a benchmark over data sets: for every backend and
/// size, each `(variant, target)` against the `"diesel"` baseline
/// (hand-written diesel on the ORM's `AnyConnection`); see [`against`].
pub fn against_diesel(
    backends: &[BackendKind],
    sizes: &[usize],
    variants: &[(&str, Option<f64>)],
    key: impl Fn(BackendKind, &str, usize) -> String,
    unit: impl Fn(usize) -> String,
) -> Vec<Comparison> {
    against("diesel", backends, sizes, variants, key, unit)
}

/// The comparisons against the `"typed"` baseline (hand-written diesel on
/// a typed connection, the headline); see [`against`].
pub fn against_typed(
    backends: &[BackendKind],
    sizes: &[usize],
    variants: &[(&str, Option<f64>)],
    key: impl Fn(BackendKind, &str, usize) -> String,
    unit: impl Fn(usize) -> String,
) -> Vec<Comparison> {
    against("typed", backends, sizes, variants, key, unit)
}

/// The comparisons of a benchmark over data sets: for every backend and
/// size, each `(variant, target)` against the variant `baseline`, keyed by
/// `key(backend, variant, n)` and labelled `"{variant}, {backend}, {what}"`
/// where `what` is `unit(n)` (`N = 1000`, `1000 questions`).
pub fn against(
    baseline: &str,
    backends: &[BackendKind],
    sizes: &[usize],
    variants: &[(&str, Option<f64>)],
    key: impl Fn(BackendKind, &str, usize) -> String,
    unit: impl Fn(usize) -> String,
) -> Vec<Comparison> {
    let mut comparisons = Vec::new();
    for &backend in backends {
        for &n in sizes {
            for &(variant, target) in variants {
                comparisons.push(Comparison {
                    label: format!("{variant}, {backend}, {}", unit(n)),
                    orm: key(backend, variant, n),
                    baseline: key(backend, baseline, n),
                    target,
                });
            }
        }
    }
    comparisons
}

/// Prints a markdown table of the comparisons that ran: criterion's median
/// times and their ratio, the paired ratio (median and quartiles of the
/// per-round ratios) and whether the target is met. The verdict uses the
/// paired ratio when there is one, criterion's ratio otherwise. Returns the
/// rows.
pub fn report(title: &str, comparisons: &[Comparison]) -> Vec<String> {
    let mut rows = Vec::new();
    for c in comparisons {
        let (Some(orm), Some(base)) = (estimate(&c.orm), estimate(&c.baseline)) else {
            continue;
        };
        let ratio = orm.median_ns / base.median_ns;
        let paired = paired_ratio(&c.orm, &c.baseline);
        let judged = paired.map_or(ratio, |p| p.ratio);
        let verdict = match c.target {
            Some(t) if judged <= t => format!("≤ {t}x: met"),
            Some(t) => format!("≤ {t}x: MISSED by {:.2}x", judged / t),
            None => "no target".to_owned(),
        };
        let paired = paired.map_or("n/a".to_owned(), |p| {
            format!(
                "{:.2}x ({:.2}–{:.2}, {} rounds)",
                p.ratio, p.quartiles.0, p.quartiles.1, p.rounds
            )
        });
        rows.push(format!(
            "| {} | {} | {} | {:.2}x | {} | {} |",
            c.label,
            fmt_ns(orm.median_ns),
            fmt_ns(base.median_ns),
            ratio,
            paired,
            verdict
        ));
    }
    println!();
    println!("==== {title}: ORM / baseline, same run");
    if rows.is_empty() {
        println!("(nothing to compare: the benchmarks were filtered out or skipped)");
    } else {
        println!("| benchmark | ORM (criterion median) | baseline | ratio | paired ratio (IQR) | target |");
        println!("|---|---|---|---|---|---|");
        for row in &rows {
            println!("{row}");
        }
    }
    println!();
    rows
}
