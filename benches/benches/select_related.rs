//! `select_related` along a two-hop chain (choice -> question -> author),
//! against a hand-written diesel join on a typed connection (the headline
//! baseline) and on the ORM's `AnyConnection`, in the same run, on SQLite,
//! PostgreSQL and MariaDB.
//!
//! N choices, ten per question, each question with an author (one author
//! per ten questions). Each iteration loads the choices with their question
//! and author and folds, for every choice, its id, its question's id and
//! its author's name length into an order-sensitive checksum:
//!
//! - `typed` (the headline baseline): on `SqliteConnection` /
//!   `PgConnection` / `MysqlConnection`, one query,
//!   `choice.inner_join(question.left_join(author))` selecting the three
//!   rows as tuples, in `Choice::objects()`'s ordering (`votes DESC, id`);
//!   each row carries its own copy of the question and author;
//! - `diesel`: the same code on the ORM's `AnyConnection`;
//! - `select_related`: `Choice::objects().select_related(Choice::QUESTION.then(Question::AUTHOR))`,
//!   then `choice.question(c)?.author(c)?` for every choice (one query,
//!   none in the loop; rows sharing a question share one object);
//! - `prefetch`: the same path through `prefetch_related` (three queries:
//!   choices, then one `IN` query per hop), for reference.
//!
//! Sizes: 1,000 and 10,000 choices (`ORM_BENCH_MAX_N` lowers the top).
//! Issue-10 target: `select_related` ≤ 1.05x the typed diesel join.
//!
//! `cargo bench -p orm-benches --bench select_related`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::prelude::*;
use orm_benches::alloc::{count_allocs, CountingAlloc};
use orm_benches::fixture::{self, AuthorRow, ChoiceRow, QuestionRow};
use orm_benches::ratio;
use orm_benches::typed::{self, TypedConn};
use orm_benches::variants::{self, Routine, Variant};
use orm_core::{capture_queries, AnyConnection, BackendKind};
use orm_tests::polls::{author, choice, question, Choice, Question};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use orm_benches::fixture::BACKENDS;
/// Choices (ten per question).
const SIZES: [usize; 2] = [1_000, 10_000];
/// Questions per author.
const QUESTIONS_PER_AUTHOR: usize = 10;

fn key(backend: BackendKind, variant: &str, n: usize) -> String {
    format!("select_related/{}/{variant}/{n}", fixture::slug(backend))
}

/// Folds one choice into the order-sensitive checksum.
fn fold(sum: u64, choice: i64, question: i64, author_name: usize) -> u64 {
    sum.wrapping_mul(31)
        .wrapping_add(choice as u64)
        .wrapping_add((question as u64) << 20)
        .wrapping_add(author_name as u64)
}

/// The poll tables with `n` choices over `n / 10` questions, each question
/// pointing at one of `n / 100` authors.
fn setup(conn: &mut AnyConnection, n: usize) {
    fixture::create_poll_tables(conn).expect("create the poll tables");
    let questions = n / fixture::CHOICES_PER_QUESTION;
    fixture::populate(conn, questions, n).expect("insert the questions and choices");
    fixture::add_authors(conn, questions.div_ceil(QUESTIONS_PER_AUTHOR))
        .expect("insert the authors");
}

/// Hand-written diesel over a connection expression: one typed join, the
/// rows as tuples.
macro_rules! diesel_join {
    ($conn:expr) => {{
        let conn = $conn;
        let rows: Vec<(ChoiceRow, QuestionRow, Option<AuthorRow>)> = choice::table
            .inner_join(question::table.left_join(author::table))
            .select((
                choice::all_columns,
                question::all_columns,
                author::all_columns.nullable(),
            ))
            .order((choice::votes.desc(), choice::id.asc()))
            .load(conn)
            .expect("load the joined rows");
        let mut sum = 0;
        for (c, q, a) in &rows {
            let (c, q, a) = black_box((c, q, a));
            sum = fold(sum, c.0, q.0, a.as_ref().map_or(0, |a| a.1.len()));
        }
        sum
    }};
}

/// Hand-written diesel on the ORM's `AnyConnection`.
fn diesel_join(conn: &mut AnyConnection) -> u64 {
    diesel_join!(conn)
}

/// Hand-written diesel on a typed connection.
fn typed_join(conn: &mut AnyConnection) -> u64 {
    orm_benches::on_typed!(conn, c => diesel_join!(c))
}

/// The loop over `choice.question(c)?.author(c)?` for choices loaded by the caller.
fn orm_loop(conn: &mut AnyConnection, choices: &[Choice]) -> u64 {
    let mut sum = 0;
    for c in choices {
        let q = c.question(conn).expect("choice.question()");
        let a = q.author(conn).expect("question.author()");
        let (c, q, a) = black_box((c, q, a));
        sum = fold(
            sum,
            c.id.unwrap_or_default(),
            q.id.unwrap_or_default(),
            a.map_or(0, |a| a.name.len()),
        );
    }
    sum
}

/// `select_related(Choice::QUESTION.then(Question::AUTHOR))`, then the loop.
fn orm_select_related(conn: &mut AnyConnection) -> u64 {
    let choices = Choice::objects()
        .select_related(Choice::QUESTION.then(Question::AUTHOR))
        .load(conn)
        .expect("load the choices with their questions and authors");
    orm_loop(conn, &choices)
}

/// The same path through `prefetch_related` (one query per hop), then the loop.
fn orm_prefetch(conn: &mut AnyConnection) -> u64 {
    let choices = Choice::objects()
        .prefetch_related(Choice::QUESTION.then(Question::AUTHOR))
        .load(conn)
        .expect("load the choices, then their questions and authors");
    orm_loop(conn, &choices)
}

const VARIANTS: [Variant<u64>; 4] = [
    ("typed", Routine::Typed(typed_join)),
    ("diesel", Routine::Any(diesel_join)),
    ("select_related", Routine::Any(orm_select_related)),
    ("prefetch", Routine::Any(orm_prefetch)),
];

/// Same checksum from every variant with the expected number of queries;
/// prints what each allocates per iteration.
fn check(conn: &mut AnyConnection, typed: &mut TypedConn, backend: BackendKind, n: usize) {
    let expected = typed_join(typed.on(conn));
    assert_ne!(expected, 0);
    let (sum, log) = capture_queries(conn, diesel_join);
    assert_eq!(
        (sum, log.count()),
        (expected, 1),
        "hand-written diesel: same result, 1 query"
    );
    for (variant, routine, queries) in [
        (
            "select_related",
            orm_select_related as fn(&mut AnyConnection) -> u64,
            1,
        ),
        ("prefetch", orm_prefetch, 3),
    ] {
        let (sum, log) = capture_queries(conn, routine);
        assert_eq!(
            (sum, log.count()),
            (expected, queries),
            "{variant}: same result, {queries} queries: {:#?}",
            log.queries()
        );
    }
    println!();
    println!("==== select_related, {backend}, {n} choices: allocations per iteration");
    for (variant, routine) in VARIANTS {
        let (sum, stats) = count_allocs(|| routine.call(conn, typed));
        assert_eq!(sum, expected);
        println!(
            "  {variant:<15} {:>7} allocations, {:>9} bytes",
            stats.allocs, stats.bytes
        );
    }
}

fn select_related(c: &mut Criterion) {
    typed::each_typed_data_set(
        BACKENDS,
        &fixture::sizes(&SIZES),
        setup,
        |conn, typed, backend, n| {
            check(conn, typed, backend, n);
            variants::run(
                c,
                &format!("select_related/{}", fixture::slug(backend)),
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
    let unit = |n| format!("{n} choices");
    let headline = [
        ("select_related", Some(1.05)),
        ("prefetch", None),
        ("diesel", None),
    ];
    ratio::report(
        "select_related, choice -> question -> author (baseline: hand-written diesel join \
         on a typed connection; `diesel` = the same on AnyConnection)",
        &ratio::against_typed(BACKENDS, &sizes, &headline, key, unit),
    );
    let variants = [("select_related", None), ("prefetch", None)];
    ratio::report(
        "select_related, choice -> question -> author (baseline: hand-written diesel join \
         on AnyConnection)",
        &ratio::against_diesel(BACKENDS, &sizes, &variants, key, unit),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = select_related, report
}
criterion_main!(benches);
