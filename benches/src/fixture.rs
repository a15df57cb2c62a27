//! Databases and rows for the benchmarks: the polls models of `orm-tests`
//! in a private database (in-memory SQLite, a private schema on
//! PostgreSQL or a private database on MariaDB, dropped with the handle).

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection;
use orm_core::{schema, AnyConnection, BackendKind, Model, OrmError};
use orm_tests::harness::{self, TestDb};
use orm_tests::polls::{Author, Choice, Question};

/// Rows per INSERT when filling tables: `bulk_create` sends one statement
/// for all its rows, and 100,000 rows would pass the bind-parameter limits
/// (SQLite 32,766, PostgreSQL and MySQL 65,535).
const INSERT_CHUNK: usize = 5_000;

/// Children per parent in the data sets.
pub const CHOICES_PER_QUESTION: usize = 10;

/// A `choice` row as hand-written diesel loads it: id, question_id,
/// choice_text, votes.
pub type ChoiceRow = (i64, i64, String, i32);

/// A `polls_question` row: id, text, pub_date, author_id.
pub type QuestionRow = (i64, String, NaiveDateTime, Option<i64>);

/// An `author` row: id, name, email.
pub type AuthorRow = (i64, String, Option<String>);

/// The sizes of `all` up to `ORM_BENCH_MAX_N` (all of them when unset).
pub fn sizes(all: &[usize]) -> Vec<usize> {
    let max = std::env::var("ORM_BENCH_MAX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    all.iter().copied().filter(|&n| n <= max).collect()
}

/// The backends the relation benchmarks run on: SQLite (in memory),
/// PostgreSQL and, with the `mysql` feature (on by default), MariaDB/MySQL,
/// each on the local server.
#[cfg(feature = "mysql")]
pub const BACKENDS: &[BackendKind] = &[
    BackendKind::Sqlite,
    BackendKind::Postgres,
    BackendKind::Mysql,
];
/// The backends the relation benchmarks run on (build with the `mysql`
/// feature for MariaDB/MySQL too).
#[cfg(not(feature = "mysql"))]
pub const BACKENDS: &[BackendKind] = &[BackendKind::Sqlite, BackendKind::Postgres];

/// A short name for a backend, for benchmark ids.
pub fn slug(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
        BackendKind::Mysql => "mysql",
    }
}

/// A fresh private database on `backend`, or `None` (with a message) when
/// its server cannot be reached. PostgreSQL is found through
/// `ORM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
/// MariaDB through `ORM_TEST_MYSQL_URL` (default
/// `mysql://root@127.0.0.1:3306/test`); the private schema or database is
/// dropped when the handle is.
pub fn open(backend: BackendKind) -> Option<TestDb> {
    match harness::open(backend) {
        Ok(db) => Some(db),
        Err(e) => {
            eprintln!("SKIPPED: {backend} is unreachable ({e})");
            None
        }
    }
}

/// Runs `body` on a fresh private database for every backend and size
/// (sizes in order; a backend whose server is unreachable is skipped with a
/// message). The connection goes back, and the database is dropped, after
/// each call.
pub fn each_data_set(
    backends: &[BackendKind],
    sizes: &[usize],
    mut body: impl FnMut(&mut AnyConnection, BackendKind, usize),
) {
    for &backend in backends {
        for &n in sizes {
            let Some(db) = open(backend) else {
                break;
            };
            let mut conn = db.get().expect("take a connection from the pool");
            body(&mut conn, backend, n);
            // `conn` is dropped before `db`, whose drop removes the schema.
        }
    }
}

/// Creates the tables of `Author`, `Question` and `Choice`, and nothing
/// else (statement by statement, so tables other models would add to
/// `create_tables` are not needed).
pub fn create_poll_tables(conn: &mut AnyConnection) -> orm_core::Result<()> {
    let backend = conn.backend();
    for meta in [Author::meta(), Question::meta(), Choice::meta()] {
        for statement in schema::create_table_sql(meta, backend) {
            conn.batch_execute(&statement)?;
        }
    }
    Ok(())
}

/// The poll tables with `choices` choices over `choices / 10` questions
/// (at least one); returns the number of questions.
pub fn poll_data_set(conn: &mut AnyConnection, choices: usize) -> usize {
    create_poll_tables(conn).expect("create the poll tables");
    let questions = (choices / CHOICES_PER_QUESTION).max(1);
    populate(conn, questions, choices).expect("insert the questions and choices");
    questions
}

fn day() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 21)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap_or_default()
}

/// Inserts `questions` questions and `choices` choices, choice `i` pointing
/// at question `i % questions`, with votes spread over 0..100 so the
/// default ordering (`-votes, id`) has work to do. Returns the question ids.
pub fn populate(
    conn: &mut AnyConnection,
    questions: usize,
    choices: usize,
) -> orm_core::Result<Vec<i64>> {
    let start = day();
    let mut ids = Vec::with_capacity(questions);
    for chunk in (0..questions).collect::<Vec<_>>().chunks(INSERT_CHUNK) {
        let mut rows: Vec<Question> = chunk
            .iter()
            .map(|&j| Question {
                question_text: format!("Question number {j}?"),
                pub_date: start - TimeDelta::minutes(j as i64),
                ..Default::default()
            })
            .collect();
        Question::objects().bulk_create(conn, &mut rows)?;
        ids.extend(rows.iter().filter_map(|q| q.id));
    }
    if ids.len() != questions {
        return Err(OrmError::InvalidQuery {
            model: "Question",
            reason: format!(
                "bulk_create returned {} keys for {questions} rows",
                ids.len()
            ),
        });
    }
    for chunk in (0..choices).collect::<Vec<_>>().chunks(INSERT_CHUNK) {
        let mut rows: Vec<Choice> = chunk
            .iter()
            .map(|&i| {
                let mut c = Choice {
                    choice_text: format!("Choice number {i}"),
                    votes: ((i * 7_919) % 100) as i32,
                    ..Default::default()
                };
                c.question.set_key(Some(ids[i % questions]));
                c
            })
            .collect();
        Choice::objects().bulk_create(conn, &mut rows)?;
    }
    if conn.backend() == BackendKind::Postgres {
        for meta in [Question::meta(), Choice::meta()] {
            let table = schema::quote(BackendKind::Postgres, meta.table);
            conn.batch_execute(&format!("ANALYZE {table}"))?;
        }
    }
    Ok(ids)
}

/// Inserts `count` authors (`Author number {i}`) and gives question `q` the
/// author `first + (q.id mod count)`, so every author asks about as many
/// questions. Call after [`populate`].
pub fn add_authors(conn: &mut AnyConnection, count: usize) -> orm_core::Result<()> {
    let mut authors: Vec<Author> = (0..count)
        .map(|i| Author {
            name: format!("Author number {i}"),
            ..Default::default()
        })
        .collect();
    Author::objects().bulk_create(conn, &mut authors)?;
    let first = authors
        .first()
        .and_then(|a| a.id)
        .ok_or_else(|| OrmError::InvalidQuery {
            model: "Author",
            reason: "bulk_create returned no key".to_owned(),
        })?;
    let count = authors.len() as i64;
    // Consecutive ids from `first`.
    let table = schema::quote(conn.backend(), Question::meta().table);
    conn.batch_execute(&format!(
        "UPDATE {table} SET author_id = {first} + (id % {count})"
    ))?;
    if conn.backend() == BackendKind::Postgres {
        let author = schema::quote(BackendKind::Postgres, Author::meta().table);
        conn.batch_execute(&format!("ANALYZE {table}; ANALYZE {author}"))?;
    }
    Ok(())
}
