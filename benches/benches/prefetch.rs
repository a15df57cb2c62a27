//! The prefetch loop: questions and, for each, its choices, against
//! hand-written diesel on a typed connection (the headline baseline) and on
//! the ORM's `AnyConnection`, in the same run, on SQLite, PostgreSQL and
//! MariaDB.
//!
//! Each iteration loads the questions and reads every question's choices:
//!
//! - `typed` (the headline baseline): on `SqliteConnection` /
//!   `PgConnection` / `MysqlConnection`, the question rows as tuples, one
//!   `choice::question_id.eq_any(ids)` query (ordered like
//!   `Choice::objects()`), the rows grouped into a `HashMap<id, Vec<row>>`;
//! - `diesel`: the same code on the ORM's `AnyConnection`;
//! - `prefetch`: `Question::objects().prefetch_related(Question::CHOICES)`,
//!   then `q.choices().all(&mut conn)` for every question (no query);
//! - `peers`: `Question::objects().load()`, then the same loop under
//!   `FetchMode::Peers` (the first `all()` loads every peer's choices in one
//!   query);
//! - `one`: the same loop under `FetchMode::One` (one query per question;
//!   N ≤ 1,000).
//!
//! N = 100, 1,000, 10,000 and 100,000 choices (`ORM_BENCH_MAX_N` lowers
//! the top), ten per question. After criterion's samples the variants are
//! also timed alternately, round by round (`ratio::paired`).
//!
//! Targets: a prefetch loop within 1.2x of hand-written diesel (design
//! brief), PEERS within 1.15x; issue 10 sets none for this reverse loop
//! beyond "nothing gets slower".
//!
//! `cargo bench -p orm-benches --bench prefetch`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::prelude::*;
use orm_benches::alloc::CountingAlloc;
use orm_benches::fixture::{self, ChoiceRow, QuestionRow};
use orm_benches::ratio;
use orm_benches::typed::{self, TypedConn};
use orm_benches::variants::{self, Routine, Variant};
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::{capture_queries, AnyConnection, BackendKind};
use orm_tests::polls::{choice, question, Question};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use orm_benches::fixture::BACKENDS;
const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];
/// FetchMode::One runs one query per question: only up to this N.
const ONE_MAX_N: usize = 1_000;

fn key(backend: BackendKind, variant: &str, n: usize) -> String {
    format!("prefetch/{}/{variant}/{n}", fixture::slug(backend))
}

/// Hand-written diesel over a connection expression: two queries and a
/// grouping `HashMap`.
macro_rules! diesel_grouped {
    ($conn:expr) => {{
        let conn = $conn;
        let questions: Vec<QuestionRow> = question::table
            .order((question::pub_date.desc(), question::id.asc()))
            .load(conn)
            .expect("load the question rows");
        let ids: Vec<i64> = questions.iter().map(|q| q.0).collect();
        let mut children: HashMap<i64, Vec<ChoiceRow>> = HashMap::with_capacity(ids.len());
        let rows: Vec<ChoiceRow> = choice::table
            .filter(choice::question_id.eq_any(ids))
            .order((choice::votes.desc(), choice::id.asc()))
            .load(conn)
            .expect("load the choice rows");
        for row in rows {
            children.entry(row.1).or_default().push(row);
        }
        let mut sum = 0;
        for q in &questions {
            for c in children.get(&q.0).map_or(&[][..], Vec::as_slice) {
                sum += black_box(c).2.len();
            }
        }
        sum
    }};
}

/// Hand-written diesel on the ORM's `AnyConnection`.
fn diesel_grouped(conn: &mut AnyConnection) -> usize {
    diesel_grouped!(conn)
}

/// Hand-written diesel on a typed connection.
fn typed_grouped(conn: &mut AnyConnection) -> usize {
    orm_benches::on_typed!(conn, c => diesel_grouped!(c))
}

/// The loop over `q.choices().all()` for questions loaded by `load`.
fn orm_loop(conn: &mut AnyConnection, questions: &[Question]) -> usize {
    let mut sum = 0;
    for q in questions {
        let choices = q.choices().all(conn).expect("question.choices().all()");
        for c in choices.iter() {
            sum += black_box(c).choice_text.len();
        }
    }
    sum
}

/// `prefetch_related(Question::CHOICES)`, then the loop (no query).
fn orm_prefetch(conn: &mut AnyConnection) -> usize {
    let questions = Question::objects()
        .prefetch_related(Question::CHOICES)
        .load(conn)
        .expect("load the questions with their choices");
    orm_loop(conn, &questions)
}

/// [`orm_lazy`] under PEERS.
fn orm_peers(conn: &mut AnyConnection) -> usize {
    with_fetch_mode(FetchMode::Peers, || orm_lazy(conn))
}

/// [`orm_lazy`] under ONE: one query per question.
fn orm_one(conn: &mut AnyConnection) -> usize {
    with_fetch_mode(FetchMode::One, || orm_lazy(conn))
}

/// A plain load, then the loop in the fetch mode in force.
fn orm_lazy(conn: &mut AnyConnection) -> usize {
    let questions = Question::objects().load(conn).expect("load the questions");
    orm_loop(conn, &questions)
}

/// Same checksum from every variant, with the expected query counts.
fn check(conn: &mut AnyConnection, typed: &mut TypedConn, n: usize, questions: usize) {
    let expected = typed_grouped(typed.on(conn));
    assert!(expected > 0);
    let (sum, log) = capture_queries(conn, diesel_grouped);
    assert_eq!(
        (sum, log.count()),
        (expected, 2),
        "hand-written diesel: same result, 2 queries"
    );
    let (sum, log) = capture_queries(conn, orm_prefetch);
    assert_eq!(
        (sum, log.count()),
        (expected, 2),
        "prefetch: same result, 2 queries"
    );
    let (sum, log) = capture_queries(conn, orm_peers);
    assert_eq!(
        (sum, log.count()),
        (expected, 2),
        "peers: same result, 2 queries"
    );
    if n <= ONE_MAX_N {
        let (sum, log) = capture_queries(conn, orm_one);
        assert_eq!(
            (sum, log.count()),
            (expected, questions + 1),
            "one: same result, one query per question"
        );
    }
}

fn setup(conn: &mut AnyConnection, n: usize) {
    fixture::poll_data_set(conn, n);
}

fn prefetch(c: &mut Criterion) {
    typed::each_typed_data_set(
        BACKENDS,
        &fixture::sizes(&SIZES),
        setup,
        |conn, typed, backend, n| {
            let questions = (n / fixture::CHOICES_PER_QUESTION).max(1);
            check(conn, typed, n, questions);

            let mut variants: Vec<Variant<usize>> = vec![
                ("typed", Routine::Typed(typed_grouped)),
                ("diesel", Routine::Any(diesel_grouped)),
                ("prefetch", Routine::Any(orm_prefetch)),
                ("peers", Routine::Any(orm_peers)),
            ];
            if n <= ONE_MAX_N {
                variants.push(("one", Routine::Any(orm_one)));
            }
            variants::run(
                c,
                &format!("prefetch/{}", fixture::slug(backend)),
                n,
                (conn, typed),
                &variants,
                |variant| key(backend, variant, n),
                Duration::from_secs(2),
            );
        },
    );
}

fn report(_: &mut Criterion) {
    let sizes = fixture::sizes(&SIZES);
    let unit = |n| format!("N = {n}");
    let headline = [
        ("prefetch", Some(1.2)),
        ("peers", Some(1.15)),
        ("one", None),
        ("diesel", None),
    ];
    ratio::report(
        "prefetch loop (baseline: hand-written diesel on a typed connection; \
         `diesel` = the same on AnyConnection)",
        &ratio::against_typed(BACKENDS, &sizes, &headline, key, unit),
    );
    let variants = [("prefetch", None), ("peers", None), ("one", None)];
    ratio::report(
        "prefetch loop (baseline: hand-written diesel on AnyConnection)",
        &ratio::against_diesel(BACKENDS, &sizes, &variants, key, unit),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = prefetch, report
}
criterion_main!(benches);
