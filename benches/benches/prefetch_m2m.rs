//! The many-to-many prefetch loop: questions and, for each, its tags
//! (`Question.tags`, through the generated `QuestionTags` model, table
//! `polls_question_tags`), against hand-written diesel on a typed
//! connection (the headline baseline) and on the ORM's `AnyConnection`, in
//! the same run, on SQLite, PostgreSQL and MariaDB.
//!
//! Each question has 5 tags out of 50 (tag names are not in id order, so
//! the `name` ordering has work to do). Each iteration loads the questions
//! and reads every question's tags, folding each tag's id and name length
//! into an order-sensitive checksum:
//!
//! - `typed` (the headline baseline): on `SqliteConnection` /
//!   `PgConnection` / `MysqlConnection`, the question rows as tuples, one
//!   query for the links
//!   (`question_tags::question_id.eq_any(ids)`), one for the tags
//!   (`tag::id.eq_any(tag_ids)`, ordered by name), a `HashMap` from
//!   question id to the indexes of its tags (in name order), then the loop
//!   over `&(id, name)` rows;
//! - `diesel`: the same code on the ORM's `AnyConnection`;
//! - `diesel_owned`: the same queries, but each question gets its own
//!   `Vec<(i64, String)>` of cloned tag rows, as the ORM does (no target:
//!   it shows what owning the rows per question costs by hand);
//! - `prefetch`: `Question::objects().prefetch_related(Question::TAGS)`,
//!   then `q.tags().all(&mut conn)` for every question (no query);
//! - `peers`: `Question::objects().load()`, then the same loop under
//!   `FetchMode::Peers` (the first `all()` loads every peer's tags, two
//!   queries).
//!
//! Every variant runs three queries. Owners: 100, 1,000 (the design-brief
//! case) and 10,000 (`ORM_BENCH_MAX_N` lowers the top). After criterion's
//! samples the variants are also timed alternately, round by round
//! (`ratio::paired`).
//!
//! Targets: issue 10, the prefetch loop ≤ 1.15x typed diesel at 100, 1,000
//! and 10,000 owners (the design brief's was 1.2x).
//!
//! `cargo bench -p orm-benches --bench prefetch_m2m` (add `-- sqlite/` or
//! `-- postgres/` to run one backend).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use orm_benches::alloc::{count_allocs, CountingAlloc};
use orm_benches::fixture::{self, QuestionRow};
use orm_benches::ratio;
use orm_benches::typed::{self, TypedConn};
use orm_benches::variants::{self, Routine, Variant};
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::{capture_queries, schema, AnyConnection, BackendKind, Model};
use orm_tests::polls::{question, question_tags, tag, Question, QuestionTags, Tag};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use orm_benches::fixture::BACKENDS;
/// Owners (questions).
const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Tags in the table.
const TAGS: usize = 50;
/// Tags per question.
const TAGS_PER_QUESTION: usize = 5;
/// Links per INSERT when filling the through table (3 binds a row).
const LINK_CHUNK: usize = 5_000;

/// A `tag` row as hand-written diesel loads it: id, name.
type TagRow = (i64, String);

fn key(backend: BackendKind, variant: &str, owners: usize) -> String {
    format!("prefetch_m2m/{}/{variant}/{owners}", fixture::slug(backend))
}

/// Folds one tag into the order-sensitive checksum.
fn fold(sum: u64, id: i64, name: &str) -> u64 {
    sum.wrapping_mul(31)
        .wrapping_add(id as u64)
        .wrapping_add(name.len() as u64)
}

// ---------------------------------------------------------------------------
// Data: the question and tag tables, 5 links per question.
// ---------------------------------------------------------------------------

/// Creates the tables (questions, their authors and choices as the shared
/// fixture does, tags and the through table) and fills them.
fn setup(conn: &mut AnyConnection, owners: usize) -> orm_core::Result<()> {
    fixture::create_poll_tables(conn)?;
    for meta in [Tag::meta(), QuestionTags::meta()] {
        for statement in schema::create_table_sql(meta, conn.backend()) {
            conn.batch_execute(&statement)?;
        }
    }
    let questions = fixture::populate(conn, owners, 0)?;
    // Names in another order than ids: tag i (id i + 1) is "tag {17 i mod 50}".
    let mut tags: Vec<Tag> = (0..TAGS)
        .map(|i| Tag {
            name: format!("tag {:02}", (i * 17) % TAGS),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut tags)?;
    let tag_ids: Vec<i64> = tags.iter().filter_map(|t| t.id).collect();
    let links: Vec<(i64, i64)> = questions
        .iter()
        .enumerate()
        .flat_map(|(j, &q)| {
            let tag_ids = &tag_ids;
            (0..TAGS_PER_QUESTION).map(move |k| (q, tag_ids[(j * 7 + k * 11) % TAGS]))
        })
        .collect();
    for chunk in links.chunks(LINK_CHUNK) {
        let mut rows: Vec<QuestionTags> = chunk
            .iter()
            .map(|&(q, t)| {
                let mut row = QuestionTags::default();
                row.question.set_key(Some(q));
                row.tag.set_key(Some(t));
                row
            })
            .collect();
        QuestionTags::objects().bulk_create(conn, &mut rows)?;
    }
    if conn.backend() == BackendKind::Postgres {
        for meta in [Tag::meta(), QuestionTags::meta()] {
            let table = schema::quote(BackendKind::Postgres, meta.table);
            conn.batch_execute(&format!("ANALYZE {table}"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The variants. Each returns the checksum of every question's tags, in the
// questions' order and each question's tags in name order.
// ---------------------------------------------------------------------------

/// The rows hand-written diesel reads: questions, links, tags.
type Rows = (Vec<QuestionRow>, Vec<(i64, i64)>, Vec<TagRow>);

/// The three queries of hand-written diesel, over a connection expression:
/// the questions, their links, the linked tags ordered by name.
macro_rules! diesel_rows {
    ($conn:expr) => {{
        let conn = $conn;
        let questions: Vec<QuestionRow> = question::table
            .order((question::pub_date.desc(), question::id.asc()))
            .load(conn)
            .expect("load the question rows");
        let ids: Vec<i64> = questions.iter().map(|q| q.0).collect();
        let links: Vec<(i64, i64)> = question_tags::table
            .filter(question_tags::question_id.eq_any(ids))
            .select((question_tags::question_id, question_tags::tag_id))
            .load(conn)
            .expect("load the links");
        let mut tag_ids: Vec<i64> = links.iter().map(|l| l.1).collect();
        tag_ids.sort_unstable();
        tag_ids.dedup();
        let tags: Vec<TagRow> = tag::table
            .filter(tag::id.eq_any(tag_ids))
            .order(tag::name.asc())
            .load(conn)
            .expect("load the tag rows");
        (questions, links, tags)
    }};
}

/// Hand-written diesel on the ORM's `AnyConnection`: three queries, each
/// question's tags grouped as indexes into the tag rows.
fn diesel_grouped(conn: &mut AnyConnection) -> u64 {
    grouped(diesel_rows!(conn))
}

/// The same on a typed connection.
fn typed_grouped(conn: &mut AnyConnection) -> u64 {
    grouped(orm_benches::on_typed!(conn, c => diesel_rows!(c)))
}

/// Groups each question's tags as indexes into the tag rows (index order
/// is name order), then the loop.
fn grouped((questions, links, tags): Rows) -> u64 {
    let position: HashMap<i64, usize> = tags.iter().enumerate().map(|(i, t)| (t.0, i)).collect();
    let mut grouped: HashMap<i64, Vec<usize>> = HashMap::with_capacity(questions.len());
    for (q, t) in links {
        if let Some(&i) = position.get(&t) {
            grouped.entry(q).or_default().push(i);
        }
    }
    grouped.values_mut().for_each(|v| v.sort_unstable());
    let mut sum = 0;
    for q in &questions {
        for &i in grouped.get(&q.0).map_or(&[][..], Vec::as_slice) {
            let t = black_box(&tags[i]);
            sum = fold(sum, t.0, &t.1);
        }
    }
    sum
}

/// Hand-written diesel, each question owning clones of its tag rows.
fn diesel_owned(conn: &mut AnyConnection) -> u64 {
    let (questions, links, tags) = diesel_rows!(conn);
    let position: HashMap<i64, usize> = tags.iter().enumerate().map(|(i, t)| (t.0, i)).collect();
    let mut grouped: HashMap<i64, Vec<(usize, TagRow)>> = HashMap::with_capacity(questions.len());
    for (q, t) in links {
        if let Some(&i) = position.get(&t) {
            grouped.entry(q).or_default().push((i, tags[i].clone()));
        }
    }
    let grouped: HashMap<i64, Vec<TagRow>> = grouped
        .into_iter()
        .map(|(q, mut rows)| {
            rows.sort_unstable_by_key(|r| r.0);
            (q, rows.into_iter().map(|r| r.1).collect())
        })
        .collect();
    let mut sum = 0;
    for q in &questions {
        for t in grouped.get(&q.0).map_or(&[][..], Vec::as_slice) {
            let t = black_box(t);
            sum = fold(sum, t.0, &t.1);
        }
    }
    sum
}

/// The loop over `q.tags().all()` for questions loaded by the caller.
fn orm_loop(conn: &mut AnyConnection, questions: &[Question]) -> u64 {
    let mut sum = 0;
    for q in questions {
        let tags = q.tags().all(conn).expect("question.tags().all()");
        for t in tags.iter() {
            let t = black_box(t);
            sum = fold(sum, t.id.unwrap_or_default(), &t.name);
        }
    }
    sum
}

/// `prefetch_related(Question::TAGS)`, then the loop (no query).
fn orm_prefetch(conn: &mut AnyConnection) -> u64 {
    let questions = Question::objects()
        .prefetch_related(Question::TAGS)
        .load(conn)
        .expect("load the questions with their tags");
    orm_loop(conn, &questions)
}

/// A plain load, then the loop under `FetchMode::Peers`.
fn orm_peers(conn: &mut AnyConnection) -> u64 {
    with_fetch_mode(FetchMode::Peers, || {
        let questions = Question::objects().load(conn).expect("load the questions");
        orm_loop(conn, &questions)
    })
}

/// Same checksum from every variant, three queries each; prints what each
/// variant allocates per iteration (through the Rust allocator: SQLite's
/// and libpq's own buffers are not counted).
fn check(conn: &mut AnyConnection, typed: &mut TypedConn, backend: BackendKind, owners: usize) {
    let expected = typed_grouped(typed.on(conn));
    assert_ne!(expected, 0);
    let (sum, log) = capture_queries(conn, diesel_grouped);
    assert_eq!(
        (sum, log.count()),
        (expected, 3),
        "hand-written diesel: same result, 3 queries"
    );
    let (sum, log) = capture_queries(conn, diesel_owned);
    assert_eq!((sum, log.count()), (expected, 3), "diesel_owned");
    let (sum, log) = capture_queries(conn, orm_prefetch);
    assert_eq!(
        (sum, log.count()),
        (expected, 3),
        "prefetch: same result, 3 queries: {:#?}",
        log.queries()
    );
    let (sum, log) = capture_queries(conn, orm_peers);
    assert_eq!(
        (sum, log.count()),
        (expected, 3),
        "peers: same result, 3 queries: {:#?}",
        log.queries()
    );
    println!();
    println!("==== prefetch_m2m, {backend}, {owners} questions: allocations per iteration");
    for (variant, routine) in VARIANTS {
        let (sum, stats) = count_allocs(|| routine.call(conn, typed));
        assert_eq!(sum, expected);
        println!(
            "  {variant:<12} {:>7} allocations, {:>9} bytes",
            stats.allocs, stats.bytes
        );
    }
}

const VARIANTS: [Variant<u64>; 5] = [
    ("typed", Routine::Typed(typed_grouped)),
    ("diesel", Routine::Any(diesel_grouped)),
    ("diesel_owned", Routine::Any(diesel_owned)),
    ("prefetch", Routine::Any(orm_prefetch)),
    ("peers", Routine::Any(orm_peers)),
];

fn prefetch_m2m(c: &mut Criterion) {
    typed::each_typed_data_set(
        BACKENDS,
        &fixture::sizes(&SIZES),
        |conn, owners| setup(conn, owners).expect("create and fill the tables"),
        |conn, typed, backend, owners| {
            check(conn, typed, backend, owners);
            variants::run(
                c,
                &format!("prefetch_m2m/{}", fixture::slug(backend)),
                owners,
                (conn, typed),
                &VARIANTS,
                |variant| key(backend, variant, owners),
                Duration::from_secs(3),
            );
        },
    );
}

fn report(_: &mut Criterion) {
    let sizes = fixture::sizes(&SIZES);
    let unit = |n| format!("{n} questions");
    let headline = [
        ("prefetch", Some(1.15)),
        ("peers", Some(1.15)),
        ("diesel_owned", None),
        ("diesel", None),
    ];
    ratio::report(
        "many-to-many prefetch loop, 5 tags per question (baseline: hand-written diesel \
         on a typed connection; `diesel` = the same on AnyConnection)",
        &ratio::against_typed(BACKENDS, &sizes, &headline, key, unit),
    );
    let variants = [("prefetch", None), ("peers", None), ("diesel_owned", None)];
    ratio::report(
        "many-to-many prefetch loop, 5 tags per question (baseline: hand-written diesel \
         on AnyConnection)",
        &ratio::against_diesel(BACKENDS, &sizes, &variants, key, unit),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = prefetch_m2m, report
}
criterion_main!(benches);
