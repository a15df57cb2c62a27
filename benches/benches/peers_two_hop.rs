//! The two-hop PEERS loop of issue 10 (choice -> question -> author, no
//! ordering, ten choices per question, 100 authors) against hand-written
//! diesel on a typed connection, in the same run, on SQLite (in memory),
//! PostgreSQL and MariaDB (localhost).
//!
//! Variants (see `orm_benches::two_hop`):
//!
//! - `typed` (the headline baseline): diesel on `SqliteConnection` /
//!   `PgConnection` / `MysqlConnection`, three queries and two `HashMap`s;
//! - `diesel`: the same code on the ORM's `AnyConnection` (what the
//!   MultiConnection dispatch costs);
//! - `peers`: `Choice::objects().unordered().load()`, then
//!   `c.question(conn)?.author(conn)?` for every choice under PEERS.
//!
//! Every variant runs three queries and gives the same checksum (checked
//! before timing). N = 1,000, 10,000 and 100,000 (`ORM_BENCH_MAX_N` lowers
//! the top). After criterion's samples the variants are timed alternately,
//! round by round (`ratio::paired`).
//!
//! Issue-10 target: PEERS two-hop loop ≤ 1.10x typed diesel at every N.
//! Peak RSS of the same loop: `src/bin/peers_rss.rs`.
//!
//! `cargo bench -p orm-benches --bench peers_two_hop` (add `-- sqlite/` or
//! `-- postgres/` to run one backend).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use orm_benches::alloc::CountingAlloc;
use orm_benches::fixture;
use orm_benches::ratio;
use orm_benches::two_hop::{self, QUERIES};
use orm_benches::typed::{self, TypedConn};
use orm_benches::variants::{self, Routine, Variant};
use orm_core::{capture_queries, AnyConnection, BackendKind};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use orm_benches::fixture::BACKENDS;
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn key(backend: BackendKind, variant: &str, n: usize) -> String {
    format!("peers_two_hop/{}/{variant}/{n}", fixture::slug(backend))
}

const VARIANTS: [Variant<usize>; 3] = [
    ("typed", Routine::Typed(two_hop::typed)),
    ("diesel", Routine::Any(two_hop::diesel_any)),
    ("peers", Routine::Any(two_hop::orm_peers)),
];

/// Same checksum from every variant, three queries each (the typed
/// baseline runs the code of `diesel`, whose queries are counted).
fn check(conn: &mut AnyConnection, typed: &mut TypedConn) {
    let expected = two_hop::typed(typed.on(conn));
    assert!(expected > 0);
    let (sum, log) = capture_queries(conn, two_hop::diesel_any);
    assert_eq!(
        (sum, log.count()),
        (expected, QUERIES),
        "diesel on AnyConnection: same result, 3 queries"
    );
    let (sum, log) = capture_queries(conn, two_hop::orm_peers);
    assert_eq!(
        (sum, log.count()),
        (expected, QUERIES),
        "peers: same result, 3 queries: {:#?}",
        log.queries()
    );
}

fn peers_two_hop(c: &mut Criterion) {
    typed::each_typed_data_set(
        BACKENDS,
        &fixture::sizes(&SIZES),
        two_hop::setup,
        |conn, typed, backend, n| {
            check(conn, typed);
            variants::run(
                c,
                &format!("peers_two_hop/{}", fixture::slug(backend)),
                n,
                (conn, typed),
                &VARIANTS,
                |variant| key(backend, variant, n),
                Duration::from_secs(3),
            );
        },
    );
}

fn report(_: &mut Criterion) {
    let sizes = fixture::sizes(&SIZES);
    let unit = |n| format!("N = {n}");
    let headline = [("peers", Some(1.10)), ("diesel", None)];
    ratio::report(
        "PEERS two-hop loop (baseline: hand-written diesel on a typed connection; \
         `diesel` = the same on AnyConnection)",
        &ratio::against_typed(BACKENDS, &sizes, &headline, key, unit),
    );
    ratio::report(
        "PEERS two-hop loop (baseline: hand-written diesel on AnyConnection)",
        &ratio::against_diesel(BACKENDS, &sizes, &[("peers", None)], key, unit),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = peers_two_hop, report
}
criterion_main!(benches);
