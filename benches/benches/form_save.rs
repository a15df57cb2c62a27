//! A `ModelForm` saving a new question with 50 tags (a many-to-many), then
//! reading the tags back, against hand-written diesel doing the same writes
//! and reads on a typed connection (the headline baseline) and on the ORM's
//! `AnyConnection`, in the same run, on SQLite, PostgreSQL and MariaDB.
//!
//! Each iteration runs inside a transaction that is rolled back, so the
//! tables do not grow (both sides alike), and handles the same submitted
//! body (`question_text=...&pub_date=2026-01-01+00%3A00&tags=1&tags=2...`):
//!
//! - `typed` (the headline baseline): on `SqliteConnection` (its own
//!   in-memory copy of the tables) / `PgConnection` (the same private
//!   schema) / `MysqlConnection` (the same private database), decode the
//!   body, check the text length, parse the date and the 50 ids; validate
//!   the ids with one `SELECT id FROM tag WHERE id IN (...)`; in a
//!   transaction, INSERT the question (`RETURNING id`; on MariaDB, which has
//!   no `RETURNING`, then `SELECT LAST_INSERT_ID()`: one query more, as the
//!   ORM's insert runs there too) and INSERT the 50 links in one statement;
//!   then SELECT the tags
//!   back (one query: `tag.id IN (SELECT tag_id FROM the links)`, ordered
//!   by name) — 4 queries;
//! - `diesel`: the same code on the ORM's `AnyConnection`;
//! - `form`: `ModelForm::<Question>::new().bind_urlencoded(body)`, then
//!   `.save(&mut conn)` (validation loads the 50 tags, then the INSERT of
//!   the question and of the links, in a transaction), then
//!   `q.tags().all(&mut conn)`, which the validated tags answer: 3 queries
//!   for the save (one more on PostgreSQL and MariaDB, where the cached tags
//!   are ordered in the collation, and one more on MariaDB for the new id),
//!   none for the read-back.
//!
//! The query counts are checked before timing and printed (those of
//! `diesel`, whose code `typed` shares). After
//! criterion's samples the two are also timed alternately, round by round
//! (`ratio::paired`).
//!
//! `cargo bench -p orm-benches --bench form_save`

use std::hint::black_box;
use std::time::Duration;

use chrono::NaiveDateTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Bool};
use orm_benches::alloc::CountingAlloc;
use orm_benches::fixture;
use orm_benches::ratio::{self, timed, Comparison};
use orm_benches::typed::{typed_copy, TypedConn};
use orm_core::is_transaction_control;
use orm_core::{capture_queries, schema, AnyConnection, BackendKind, CapturedQueries, Model};
use orm_forms::ModelForm;
use orm_tests::polls::{question, question_tags, tag, Question, QuestionTags, Tag};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use orm_benches::fixture::BACKENDS;
/// Tags in the table.
const TAGS: usize = 60;
/// Tags submitted with the question.
const CHOSEN: usize = 50;
/// Criterion samples per benchmark.
const SAMPLES: usize = 50;
/// How long the paired measurement runs per backend.
const PAIRED_BUDGET: Duration = Duration::from_secs(5);
/// The question's text column (`max_length = 200`).
const TEXT_MAX: usize = 200;

fn key(backend: BackendKind, variant: &str) -> String {
    format!("form_save/{}/{variant}/{CHOSEN}", fixture::slug(backend))
}

/// Folds one tag into an order-sensitive checksum.
fn fold(sum: u64, id: i64, name: &str) -> u64 {
    sum.wrapping_mul(31)
        .wrapping_add(id as u64)
        .wrapping_add(name.len() as u64)
}

/// Runs `f` in a transaction that is then rolled back; returns what `f`
/// returned. Any diesel connection: `AnyConnection` or a typed one.
fn rolled_back<C: Connection, R>(conn: &mut C, f: impl FnOnce(&mut C) -> R) -> R {
    let mut out = None;
    let result = conn.transaction::<(), DieselError, _>(|c| {
        out = Some(f(c));
        Err(DieselError::RollbackTransaction)
    });
    assert!(
        matches!(result, Err(DieselError::RollbackTransaction)),
        "the iteration's transaction did not roll back: {result:?}"
    );
    out.expect("the transaction ran its body")
}

/// The tag table (with the question tables of the shared fixture and the
/// through table), and `TAGS` tags whose names are not in id order.
/// Returns the ids of the tags to submit.
fn setup(conn: &mut AnyConnection) -> orm_core::Result<Vec<i64>> {
    fixture::create_poll_tables(conn)?;
    for meta in [Tag::meta(), QuestionTags::meta()] {
        for statement in schema::create_table_sql(meta, conn.backend()) {
            conn.batch_execute(&statement)?;
        }
    }
    let mut tags: Vec<Tag> = (0..TAGS)
        .map(|i| Tag {
            name: format!("tag {:02}", (i * 7) % TAGS),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut tags)?;
    // A few earlier questions with links, so the tables are not empty.
    fixture::populate(conn, 10, 0)?;
    let mut links: Vec<QuestionTags> = Question::objects()
        .load(conn)?
        .iter()
        .zip(&tags)
        .map(|(q, t)| {
            let mut row = QuestionTags::default();
            row.question.set_key(q.id);
            row.tag.set_key(t.id);
            row
        })
        .collect();
    QuestionTags::objects().bulk_create(conn, &mut links)?;
    if conn.backend() == BackendKind::Postgres {
        for meta in [Tag::meta(), QuestionTags::meta()] {
            let table = schema::quote(BackendKind::Postgres, meta.table);
            conn.batch_execute(&format!("ANALYZE {table}"))?;
        }
    }
    // The first 50 tags, submitted in descending id order.
    let mut chosen: Vec<i64> = tags.iter().filter_map(|t| t.id).take(CHOSEN).collect();
    chosen.reverse();
    Ok(chosen)
}

/// The submitted body.
fn body(ids: &[i64]) -> String {
    let mut body =
        "question_text=What%27s+the+best+way+to+tag%3F&pub_date=2026-01-01+00%3A00".to_owned();
    for id in ids {
        body.push_str(&format!("&tags={id}"));
    }
    body
}

// ---------------------------------------------------------------------------
// Hand-written: decoding the body, validating, writing, reading back.
// ---------------------------------------------------------------------------

/// Decodes one `application/x-www-form-urlencoded` component.
fn decode(raw: &str) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// What the hand-written handler takes from the body.
struct Submitted {
    text: String,
    pub_date: NaiveDateTime,
    tags: Vec<i64>,
}

/// Decodes and checks the body (no query).
fn parse(body: &str) -> Submitted {
    let (mut text, mut pub_date, mut tags) = (None, None, Vec::new());
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v).expect("a well-formed body");
        match k {
            "question_text" => text = Some(v),
            "pub_date" => {
                pub_date = Some(
                    NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M")
                        .expect("a valid date"),
                )
            }
            "tags" => {
                let id: i64 = v.trim().parse().expect("a valid id");
                if !tags.contains(&id) {
                    tags.push(id);
                }
            }
            other => panic!("unknown field {other}"),
        }
    }
    let text = text.expect("question_text is required");
    assert!(!text.trim().is_empty() && text.chars().count() <= TEXT_MAX);
    Submitted {
        text,
        pub_date: pub_date.expect("pub_date is required"),
        tags,
    }
}

/// Runs `$e` with `$c` bound to the inner connection of an `AnyConnection`
/// (batch inserts and RETURNING need the concrete backend).
macro_rules! per_backend {
    ($conn:expr, $c:ident => $e:expr) => {{
        match $conn {
            AnyConnection::Sqlite($c) => $e,
            AnyConnection::Postgres($c) => $e,
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql($c) => $e,
            // orm-core built with MySQL for another crate's sake.
            #[cfg(not(feature = "mysql"))]
            #[allow(unreachable_patterns)]
            _ => unreachable!("the benchmarks are built without MariaDB"),
        }
    }};
}

/// Inserts the submitted question and returns its id, as each backend
/// hands it back: `RETURNING` on SQLite and PostgreSQL; on MariaDB/MySQL,
/// which has no `RETURNING`, `LAST_INSERT_ID()` in a second query.
trait InsertQuestion: Connection {
    fn insert_question(&mut self, s: &Submitted) -> QueryResult<i64>;
}

macro_rules! insert_returning {
    ($($conn:ty),*) => {$(
        impl InsertQuestion for $conn {
            fn insert_question(&mut self, s: &Submitted) -> QueryResult<i64> {
                diesel::insert_into(question::table)
                    .values((
                        question::question_text.eq(&s.text),
                        question::pub_date.eq(s.pub_date),
                    ))
                    .returning(question::id)
                    .get_result(self)
            }
        }
    )*};
}
insert_returning!(diesel::SqliteConnection, diesel::PgConnection);

#[cfg(feature = "mysql")]
impl InsertQuestion for diesel::MysqlConnection {
    fn insert_question(&mut self, s: &Submitted) -> QueryResult<i64> {
        diesel::insert_into(question::table)
            .values((
                question::question_text.eq(&s.text),
                question::pub_date.eq(s.pub_date),
            ))
            .execute(self)?;
        diesel::select(sql::<BigInt>("CAST(LAST_INSERT_ID() AS SIGNED)")).get_result(self)
    }
}

/// Runs `$e` with `$c` bound to a connection that is already concrete.
macro_rules! direct {
    ($conn:expr, $c:ident => $e:expr) => {{
        let $c = &mut *$conn;
        $e
    }};
}

/// Validates and writes: 3 queries (4 on MariaDB, which reads the new id
/// back); evaluates to the new question's id.
/// `$concrete` names the macro that reaches the concrete connection
/// ([`per_backend!`] on `AnyConnection`, [`direct!`] on a typed one).
macro_rules! diesel_write {
    ($conn:expr, $s:expr, $concrete:ident) => {{
        let conn = $conn;
        let s: &Submitted = $s;
        let found: Vec<i64> = tag::table
            .filter(tag::id.eq_any(&s.tags))
            .select(tag::id)
            .load(conn)
            .expect("validate the tag ids");
        assert_eq!(found.len(), s.tags.len(), "every submitted tag exists");
        conn.transaction::<_, DieselError, _>(|conn| {
            let id: i64 = $concrete!(conn, c => c.insert_question(s)?);
            let links: Vec<_> = s
                .tags
                .iter()
                .map(|&t| {
                    (
                        question_tags::question_id.eq(id),
                        question_tags::tag_id.eq(t),
                    )
                })
                .collect();
            $concrete!(conn, c => diesel::insert_into(question_tags::table)
                .values(&links)
                .execute(c)?);
            Ok(id)
        })
        .expect("insert the question and its links")
    }};
}

/// The question's tags, ordered by name: 1 query. The generated tables do
/// not declare that they may appear in one query (no `joinable!`), so the
/// subquery on the links is an SQL fragment with a bound id (names
/// unquoted: every backend reads them the same).
macro_rules! diesel_read {
    ($conn:expr, $id:expr) => {{
        let rows: Vec<(i64, String)> = tag::table
            .filter(
                sql::<Bool>(
                    "tag.id IN (SELECT tag_id FROM polls_question_tags WHERE question_id = ",
                )
                .bind::<BigInt, _>($id)
                .sql(")"),
            )
            .order(tag::name.asc())
            .load($conn)
            .expect("read the tags back");
        rows
    }};
}

/// [`diesel_write!`] on the ORM's `AnyConnection`.
fn diesel_write(conn: &mut AnyConnection, s: &Submitted) -> i64 {
    diesel_write!(conn, s, per_backend)
}

/// [`diesel_read!`] on the ORM's `AnyConnection`.
fn diesel_read(conn: &mut AnyConnection, id: i64) -> Vec<(i64, String)> {
    diesel_read!(conn, id)
}

fn checksum_rows(rows: &[(i64, String)]) -> u64 {
    rows.iter()
        .map(black_box)
        .fold(0, |sum, t| fold(sum, t.0, &t.1))
}

/// One hand-written iteration on the ORM's `AnyConnection`, rolled back.
fn diesel_iteration(conn: &mut AnyConnection, _: &mut TypedConn, body: &str) -> u64 {
    rolled_back(conn, |c| {
        let submitted = parse(body);
        let id = diesel_write(c, &submitted);
        checksum_rows(&diesel_read(c, id))
    })
}

/// One hand-written iteration on the typed connection, rolled back.
fn typed_iteration(orm: &mut AnyConnection, typed: &mut TypedConn, body: &str) -> u64 {
    orm_benches::on_typed!(typed.on(orm), conn => rolled_back(conn, |c| {
        let submitted = parse(body);
        let id = diesel_write!(&mut *c, &submitted, direct);
        checksum_rows(&diesel_read!(&mut *c, id))
    }))
}

// ---------------------------------------------------------------------------
// The ORM.
// ---------------------------------------------------------------------------

fn orm_write(conn: &mut AnyConnection, body: &str) -> Question {
    ModelForm::<Question>::new()
        .bind_urlencoded(body)
        .save(conn)
        .expect("the form saves")
}

fn orm_read(conn: &mut AnyConnection, q: &Question) -> u64 {
    q.tags()
        .all(conn)
        .expect("question.tags().all()")
        .iter()
        .map(black_box)
        .fold(0, |sum, t| fold(sum, t.id.unwrap_or_default(), &t.name))
}

/// One ORM iteration, rolled back.
fn orm_iteration(conn: &mut AnyConnection, _: &mut TypedConn, body: &str) -> u64 {
    rolled_back(conn, |c| {
        let q = orm_write(c, body);
        orm_read(c, &q)
    })
}

// ---------------------------------------------------------------------------
// Checks and the benchmark.
// ---------------------------------------------------------------------------

/// Numbers the statements of `log` (transaction control included, shown
/// without a number), each cut to 110 characters.
fn list(log: &CapturedQueries) -> String {
    let mut n = 0;
    log.all_statements()
        .iter()
        .map(|q| {
            let q: String = q.chars().take(110).collect();
            if is_transaction_control(&q) {
                format!("       ({q})")
            } else {
                n += 1;
                format!("    {n}. {q}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Same tags from both sides; the queries of the writes and of the
/// read-back, asserted and printed. Nothing stays in the tables.
fn check(conn: &mut AnyConnection, backend: BackendKind, collation_cost: usize, body: &str) {
    // The table names the read-back's SQL fragment spells out.
    assert_eq!(
        (Tag::meta().table, QuestionTags::meta().table),
        ("tag", "polls_question_tags")
    );
    let questions_before = Question::objects().count(conn).expect("count");
    let (expected, (write, read)) = rolled_back(conn, |c| {
        let submitted = parse(body);
        let (id, write) = capture_queries(c, |c| diesel_write(c, &submitted));
        let (rows, read) = capture_queries(c, |c| diesel_read(c, id));
        assert_eq!(rows.len(), CHOSEN);
        (checksum_rows(&rows), (write, read))
    });
    // Validation, INSERT of the question (and, on MariaDB, the id read
    // back), INSERT of the links.
    let insert = if backend == BackendKind::Mysql { 2 } else { 1 };
    assert_eq!(
        write.count(),
        2 + insert,
        "diesel writes: {:#?}",
        write.queries()
    );
    assert_eq!(read.count(), 1, "diesel read-back: {:#?}", read.queries());
    let (sum, (orm_write_log, orm_read_log)) = rolled_back(conn, |c| {
        let (q, write) = capture_queries(c, |c| orm_write(c, body));
        let (sum, read) = capture_queries(c, |c| orm_read(c, &q));
        (sum, (write, read))
    });
    assert_eq!(
        sum, expected,
        "the ORM reads the same tags in the same order"
    );
    assert_eq!(
        orm_read_log.count(),
        0,
        "ORM read-back: {:#?}",
        orm_read_log.queries()
    );
    // The same writes; on PostgreSQL and MariaDB one more to order the
    // cached tags in the database's collation (`TestDb::collation_cost`).
    assert_eq!(
        orm_write_log.count(),
        2 + insert + collation_cost,
        "ORM save: {:#?}",
        orm_write_log.queries()
    );
    assert_eq!(
        Question::objects().count(conn).expect("count"),
        questions_before,
        "the iterations are rolled back"
    );
    println!();
    println!("==== form_save, {backend}: queries per iteration (transaction control excluded)");
    println!(
        "  hand-written diesel: {} for the writes, {} for the read-back",
        write.count(),
        read.count()
    );
    println!("{}", list(&write));
    println!("{}", list(&read));
    println!(
        "  ModelForm: {} for the save, {} for the read-back",
        orm_write_log.count(),
        orm_read_log.count()
    );
    println!("{}", list(&orm_write_log));
    let control = |log: &CapturedQueries| log.all_statements().len() - log.count();
    println!(
        "  transaction control inside the rolled-back transaction: diesel {}, ModelForm {}",
        control(&write),
        control(&orm_write_log)
    );
    println!();
}

/// One iteration of a variant: on the ORM's connection or the typed one.
type Variant = fn(&mut AnyConnection, &mut TypedConn, &str) -> u64;

const VARIANTS: [(&str, Variant); 3] = [
    ("typed", typed_iteration),
    ("diesel", diesel_iteration),
    ("form", orm_iteration),
];

fn form_save(c: &mut Criterion) {
    for &backend in BACKENDS {
        let Some(db) = fixture::open(backend) else {
            continue;
        };
        let mut conn = db.get().expect("take a connection from the pool");
        let ids = setup(&mut conn).expect("create and fill the tables");
        let mut typed = typed_copy(&db, |c| {
            let typed_ids = setup(c).expect("create and fill the typed copy");
            assert_eq!(typed_ids, ids, "the typed copy has the same tags");
        });
        let body = body(&ids);
        check(&mut conn, backend, db.collation_cost(), &body);
        let expected = orm_iteration(&mut conn, &mut typed, &body);
        assert_eq!(
            typed_iteration(&mut conn, &mut typed, &body),
            expected,
            "typed diesel reads the same tags in the same order"
        );

        let mut group = c.benchmark_group(format!("form_save/{}", fixture::slug(backend)));
        group.sample_size(SAMPLES);
        for (variant, routine) in VARIANTS {
            let k = key(backend, variant);
            let mut routine = || routine(&mut conn, &mut typed, &body);
            group.bench_function(BenchmarkId::new(variant, CHOSEN), |b| {
                b.iter_custom(|iters| timed(&k, SAMPLES, iters, &mut routine))
            });
        }
        group.finish();

        let keys: Vec<String> = VARIANTS.iter().map(|(v, _)| key(backend, v)).collect();
        if keys.iter().all(|k| ratio::sampled(k)) {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            ratio::paired(&keys, PAIRED_BUDGET, 20, |v| {
                black_box(VARIANTS[v].1(&mut conn, &mut typed, &body));
            });
        }
        drop(typed);
        drop(conn);
        // Dropping the handle drops the private schema or database.
        drop(db);
    }
}

fn report(_: &mut Criterion) {
    let comparisons = |baseline: &str, variants: &[&str]| -> Vec<Comparison> {
        BACKENDS
            .iter()
            .flat_map(|&backend| {
                variants.iter().map(move |&variant| Comparison {
                    label: format!("{variant}: save + read-back, {backend}, {CHOSEN} tags"),
                    orm: key(backend, variant),
                    baseline: key(backend, baseline),
                    target: None,
                })
            })
            .collect()
    };
    ratio::report(
        "form save with a 50-item many-to-many, then reading it back (baseline: hand-written \
         diesel on a typed connection; `diesel` = the same on AnyConnection)",
        &comparisons("typed", &["form", "diesel"]),
    );
    ratio::report(
        "form save with a 50-item many-to-many, then reading it back (baseline: hand-written \
         diesel on AnyConnection)",
        &comparisons("diesel", &["form"]),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = form_save, report
}
criterion_main!(benches);
