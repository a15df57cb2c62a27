//! Streaming a large table with `iter` (keyset pagination: each chunk
//! continues after the previous chunk's last key), against a hand-written
//! diesel keyset loop on a **typed** `SqliteConnection`, in the same run.
//!
//! N choices (100,000, 300,000 and 1,000,000; `ORM_BENCH_MAX_N` lowers the
//! top), in-memory SQLite. Each iteration streams the whole table in
//! chunks of 1,000 rows and folds every row (id, question key, text
//! length, votes) into an order-sensitive checksum:
//!
//! - `diesel` (baseline): `choice.filter(id.gt(last)).order(id).limit(1000)`
//!   loaded as tuples on the typed `SqliteConnection` inside the pool's
//!   connection, until a short chunk;
//! - `iter`: `Choice::objects().unordered().iter(conn, 1000)`, which sends
//!   `WHERE id > ? ORDER BY id LIMIT 1000` per chunk and builds models
//!   (each chunk a peer group).
//!
//! Besides the ORM / diesel ratio per size, the report prints the time per
//! row at each size and its growth from the smallest to the largest size:
//! flat (≈ 1.0x) means the cost is linear in the table's size, where
//! `LIMIT/OFFSET` paging grows with its square.
//!
//! `cargo bench -p orm-benches --bench streaming`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use orm_benches::fixture::{self, ChoiceRow};
use orm_benches::ratio;
use orm_benches::typed::TypedConn;
use orm_benches::variants::{self, Routine, Variant};
use orm_core::{capture_queries, schema, AnyConnection, BackendKind, Model};
use orm_tests::polls::{choice, Choice, Question};

const BACKENDS: [BackendKind; 1] = [BackendKind::Sqlite];
/// Choices in the table.
const SIZES: [usize; 3] = [100_000, 300_000, 1_000_000];
/// Rows per chunk, both variants.
const CHUNK: usize = 1_000;

fn key(backend: BackendKind, variant: &str, n: usize) -> String {
    format!("streaming/{}/{variant}/{n}", fixture::slug(backend))
}

/// Folds one row into the order-sensitive checksum.
fn fold(sum: u64, id: i64, question: i64, text: usize, votes: i32) -> u64 {
    sum.wrapping_mul(31)
        .wrapping_add(id as u64)
        .wrapping_add((question as u64) << 20)
        .wrapping_add((text as u64) << 40)
        .wrapping_add(votes as u64)
}

/// The poll tables with one question and `n` choices, inserted by SQLite
/// itself (a recursive query) so a million rows take seconds.
fn setup(conn: &mut AnyConnection, n: usize) -> orm_core::Result<()> {
    fixture::create_poll_tables(conn)?;
    let mut q = Question {
        question_text: "Streamed?".into(),
        ..Default::default()
    };
    q.save(conn)?;
    let question = q.id.unwrap_or(1);
    let table = schema::quote(conn.backend(), Choice::meta().table);
    conn.batch_execute(&format!(
        "INSERT INTO {table} (question_id, choice_text, votes) \
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT {question}, 'Choice number ' || x, x % 100 FROM c"
    ))?;
    Ok(())
}

/// Hand-written diesel on the typed connection: a keyset loop.
fn diesel_keyset(conn: &mut AnyConnection) -> u64 {
    let AnyConnection::Sqlite(conn) = conn else {
        panic!("the streaming benchmark runs on SQLite");
    };
    let mut sum = 0;
    let mut last = 0_i64;
    loop {
        let rows: Vec<ChoiceRow> = choice::table
            .filter(choice::id.gt(last))
            .order(choice::id.asc())
            .limit(CHUNK as i64)
            .load(conn)
            .expect("load a chunk");
        for (id, question, text, votes) in &rows {
            let (id, question, text, votes) = black_box((id, question, text, votes));
            sum = fold(sum, *id, *question, text.len(), *votes);
        }
        match rows.last() {
            Some(row) if rows.len() == CHUNK => last = row.0,
            _ => return sum,
        }
    }
}

/// `Choice::objects().unordered().iter(conn, CHUNK)`.
fn orm_iter(conn: &mut AnyConnection) -> u64 {
    let mut sum = 0;
    for c in Choice::objects().unordered().iter(conn, CHUNK) {
        let c = black_box(c.expect("stream a choice"));
        sum = fold(
            sum,
            c.id.unwrap_or_default(),
            c.question.key().copied().unwrap_or_default(),
            c.choice_text.len(),
            c.votes,
        );
    }
    sum
}

/// Both run on the `AnyConnection`: the diesel loop unwraps the typed
/// `SqliteConnection` inside it, so it reads the same rows without a copy.
const VARIANTS: [Variant<u64>; 2] = [
    ("diesel", Routine::Any(diesel_keyset)),
    ("iter", Routine::Any(orm_iter)),
];

/// Same checksum from both, with one query per chunk (plus the last,
/// empty one when `n` is a multiple of the chunk), and every query a
/// keyset query (no OFFSET).
fn check(conn: &mut AnyConnection, n: usize) {
    let (expected, log) = capture_queries(conn, diesel_keyset);
    let chunks = n / CHUNK + 1;
    assert_eq!(log.count(), chunks, "hand-written diesel: {chunks} queries");
    let (sum, log) = capture_queries(conn, orm_iter);
    assert_eq!(
        (sum, log.count()),
        (expected, chunks),
        "iter: same rows, {chunks} queries"
    );
    assert!(
        log.queries().iter().all(|q| !q.contains("OFFSET")),
        "iter pages by key"
    );
}

fn streaming(c: &mut Criterion) {
    fixture::each_data_set(&BACKENDS, &fixture::sizes(&SIZES), |conn, backend, n| {
        setup(conn, n).expect("create and fill the tables");
        check(conn, n);
        // No variant takes a typed connection of its own (see VARIANTS).
        let mut unused = TypedConn::shared();
        variants::run(
            c,
            &format!("streaming/{}", fixture::slug(backend)),
            n,
            (conn, &mut unused),
            &VARIANTS,
            |variant| key(backend, variant, n),
            Duration::from_secs(10),
        );
    });
}

fn report(_: &mut Criterion) {
    let sizes = fixture::sizes(&SIZES);
    let comparisons = ratio::against_diesel(&BACKENDS, &sizes, &[("iter", None)], key, |n| {
        format!("{n} rows")
    });
    ratio::report(
        "streaming, keyset chunks of 1,000 (baseline: hand-written diesel keyset loop, typed SqliteConnection)",
        &comparisons,
    );
    println!();
    println!("==== streaming: time per row by table size (flat = linear)");
    for backend in BACKENDS {
        for (variant, _) in VARIANTS {
            let per_row: Vec<(usize, f64)> = sizes
                .iter()
                .filter_map(|&n| {
                    Some((
                        n,
                        ratio::estimate(&key(backend, variant, n))?.median_ns / n as f64,
                    ))
                })
                .collect();
            let cells: Vec<String> = per_row
                .iter()
                .map(|(n, ns)| format!("{n}: {ns:.0} ns/row"))
                .collect();
            let growth = match (per_row.first(), per_row.last()) {
                (Some((_, first)), Some((_, last))) if per_row.len() > 1 => {
                    format!("{:.2}x from smallest to largest", last / first)
                }
                _ => "one size only".to_owned(),
            };
            println!("  {backend} {variant:<7} {}  ({growth})", cells.join(", "));
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = streaming, report
}
criterion_main!(benches);
