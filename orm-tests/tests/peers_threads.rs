//! Peer groups shared between threads: models are `Send + Sync`, and two
//! threads touching the same peer group at once, each on its own pooled
//! connection, get the right values while the batch runs once.
//!
//! Runs on every backend (in-memory SQLite, whose pool shares one
//! named memdb database, PostgreSQL and MariaDB) and on a file-backed
//! SQLite database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection, CapturedQueries, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// Every polls model, and the handles shared between threads, are
/// `Send + Sync` (checked at compile time).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Author>();
    send_sync::<Question>();
    send_sync::<Choice>();
    send_sync::<User>();
    send_sync::<Note>();
    send_sync::<Everything>();
    send_sync::<Order>();
    send_sync::<Group>();
    send_sync::<Vec<Choice>>();
    send_sync::<Arc<Vec<Choice>>>();
    send_sync::<ForeignKey<Question>>();
    send_sync::<ForeignKey<User, String>>();
    send_sync::<Related<Choice>>();
    send_sync::<QuerySet<Choice>>();
    send_sync::<Db>();
    send_sync::<OrmError>();
};

/// Questions (each with its own author), one choice each: distinct parents.
const N: usize = 24;

/// How many times the race is run, each on a fresh load.
const ROUNDS: usize = 25;

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let day = NaiveDate::from_ymd_opt(2026, 3, 1)
        .and_then(|d| d.and_hms_opt(8, 0, 0))
        .unwrap_or_default();
    let mut authors: Vec<Author> = (0..N)
        .map(|i| Author {
            name: format!("author {i}"),
            ..Default::default()
        })
        .collect();
    Author::objects().bulk_create(conn, &mut authors)?;
    let mut questions: Vec<Question> = authors
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut q = Question {
                question_text: format!("q{i}"),
                pub_date: day,
                ..Default::default()
            };
            q.author.set_key(a.id);
            q
        })
        .collect();
    Question::objects().bulk_create(conn, &mut questions)?;
    let mut choices = one_choice_each(&questions);
    Choice::objects().bulk_create(conn, &mut choices)
}

/// The index `i` of `c{i}`, which points at `q{i}`, by `author {i}`.
fn index(choice: &Choice) -> &str {
    &choice.choice_text[1..]
}

/// What one thread saw: per choice it touched, the question text and the
/// author name; and the queries of each phase on its own connection.
struct Seen {
    values: Vec<(String, String, Option<String>)>,
    question_phase: CapturedQueries,
    author_phase: CapturedQueries,
}

/// One thread's part: waits for the other, touches every choice's question
/// (thread 0 forwards, thread 1 backwards), waits again, then touches every
/// question's author.
fn touch_all(
    conn: &mut AnyConnection,
    choices: &[Choice],
    barrier: &Barrier,
    backwards: bool,
) -> orm_core::Result<Seen> {
    let order: Vec<&Choice> = if backwards {
        choices.iter().rev().collect()
    } else {
        choices.iter().collect()
    };
    with_fetch_mode(FetchMode::Peers, || {
        barrier.wait();
        let (texts, question_phase) = capture_queries(conn, |c| {
            order
                .iter()
                .map(|ch| ch.question(c).map(|q| q.question_text.clone()))
                .collect::<orm_core::Result<Vec<_>>>()
        });
        let texts = texts?;
        barrier.wait();
        let (names, author_phase) = capture_queries(conn, |c| {
            order
                .iter()
                .map(|ch| Ok(ch.question(c)?.author(c)?.map(|a| a.name.clone())))
                .collect::<orm_core::Result<Vec<_>>>()
        });
        let names = names?;
        let values = order
            .iter()
            .zip(texts.into_iter().zip(names))
            .map(|(ch, (text, name))| (index(ch).to_owned(), text, name))
            .collect();
        Ok(Seen {
            values,
            question_phase,
            author_phase,
        })
    })
}

/// Two threads race on one peer group, `ROUNDS` times, each round on a
/// fresh load shared through an `Arc`.
fn two_threads_one_batch(db: &Db) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    setup(&mut conn)?;
    for round in 0..ROUNDS {
        let choices = Arc::new(Choice::objects().load(&mut conn)?);
        assert_eq!(choices.len(), N);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [false, true]
            .into_iter()
            .map(|backwards| {
                let (choices, barrier) = (Arc::clone(&choices), Arc::clone(&barrier));
                // Each thread takes its own connection before the race starts.
                let mut own = db.get();
                thread::spawn(move || {
                    let own = own.as_mut().map_err(|e| format!("no connection: {e}"))?;
                    touch_all(own, &choices, &barrier, backwards).map_err(|e| e.to_string())
                })
            })
            .collect();
        let seen: Vec<Seen> = handles
            .into_iter()
            .map(|h| h.join().expect("the thread does not panic"))
            .collect::<Result<_, String>>()
            .map_err(|reason| OrmError::InvalidQuery {
                model: "Choice",
                reason,
            })?;
        for s in &seen {
            assert_eq!(s.values.len(), N);
            for (i, text, name) in &s.values {
                assert_eq!(text, &format!("q{i}"), "round {round}");
                assert_eq!(
                    name.as_deref(),
                    Some(format!("author {i}").as_str()),
                    "round {round}"
                );
            }
        }
        let question_queries: usize = seen.iter().map(|s| s.question_phase.count()).sum();
        let author_queries: usize = seen.iter().map(|s| s.author_phase.count()).sum();
        assert_eq!(
            question_queries,
            1,
            "round {round}: the question batch ran more than once: {:?} / {:?}",
            seen[0].question_phase.queries(),
            seen[1].question_phase.queries()
        );
        assert_eq!(
            author_queries,
            1,
            "round {round}: the author batch ran more than once: {:?} / {:?}",
            seen[0].author_phase.queries(),
            seen[1].author_phase.queries()
        );
        // Loaded once, for every peer.
        assert!(choices.iter().all(|c| c.question.is_loaded()));
    }
    Ok(())
}

backend_tests! {
    fn two_threads_touching_one_peer_group_run_the_batch_once(db) {
        two_threads_one_batch(db)
    }
}

/// A private temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("orm-peers-threads-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn two_threads_on_a_file_backed_sqlite_database() {
    let dir = TempDir::new();
    let path = dir.0.join("peers.db");
    let db = Db::connect(path.to_str().expect("a UTF-8 path")).expect("file-backed SQLite");
    if let Err(e) = two_threads_one_batch(&db) {
        panic!("test failed on file-backed SQLite: {e}");
    }
    drop(db);
}

/// Runs `a` and `b` at once on two connections of `db`'s pool; returns the
/// errors each saw.
/// One writer step: a new author and a vote for every choice.
fn write_step(c: &mut AnyConnection, written: &AtomicUsize) -> orm_core::Result<()> {
    let i = written.fetch_add(1, Ordering::Relaxed);
    let mut author = Author {
        name: format!("writer {i}"),
        ..Default::default()
    };
    author.save(c)?;
    c.batch_execute("UPDATE choice SET votes = votes + 1")?;
    Ok(())
}

/// One reader step: every author and choice.
fn read_step(c: &mut AnyConnection) -> orm_core::Result<()> {
    assert!(Author::objects().load(c)?.len() >= N);
    assert_eq!(Choice::objects().load(c)?.len(), N);
    Ok(())
}

fn at_once(
    db: &Db,
    steps: usize,
    a: impl Fn(&mut AnyConnection) -> orm_core::Result<()> + Sync,
    b: impl Fn(&mut AnyConnection) -> orm_core::Result<()> + Sync,
) -> (Vec<String>, Vec<String>) {
    let barrier = Barrier::new(2);
    let run = |f: &(dyn Fn(&mut AnyConnection) -> orm_core::Result<()> + Sync)| {
        let mut conn = db.get().expect("a second connection from the pool");
        barrier.wait();
        (0..steps)
            .filter_map(|_| f(&mut conn).err().map(|e| e.to_string()))
            .collect::<Vec<_>>()
    };
    thread::scope(|s| {
        let first = s.spawn(|| run(&a));
        let second = s.spawn(|| run(&b));
        (
            first.join().expect("no panic"),
            second.join().expect("no panic"),
        )
    })
}

fn memory_db_with_authors() -> Db {
    let db = Db::connect("sqlite::memory:").expect("in-memory SQLite");
    let mut conn = db.get().expect("a connection");
    setup(&mut conn).expect("the rows");
    db
}

/// The in-memory pool (a named memdb database) serves two connections
/// reading at once.
#[test]
fn sqlite_memory_pool_serves_two_readers_at_once() {
    let db = memory_db_with_authors();
    let read = |c: &mut AnyConnection| {
        assert_eq!(Choice::objects().load(c)?.len(), N);
        Ok(())
    };
    let (a, b) = at_once(&db, 300, read, read);
    assert!(a.is_empty() && b.is_empty(), "{a:?} / {b:?}");
}

/// The in-memory pool serves a writer and a reader at once, like a
/// file-backed database does (the busy timeout makes each wait its turn).
#[test]
fn sqlite_memory_pool_serves_a_writer_and_a_reader_at_once() {
    let db = memory_db_with_authors();
    let written = AtomicUsize::new(0);
    let write = |c: &mut AnyConnection| write_step(c, &written);
    // Timing decides who hits the lock: race a few times.
    let (mut writer, mut reader) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (w, r) = at_once(&db, 300, write, read_step);
        writer.extend(w);
        reader.extend(r);
    }
    assert!(
        writer.is_empty() && reader.is_empty(),
        "writer: {} errors, first {:?}; reader: {} errors, first {:?}",
        writer.len(),
        writer.first(),
        reader.len(),
        reader.first()
    );
}

/// The same writer and reader on a file-backed database: both succeed.
#[test]
fn file_backed_sqlite_serves_a_writer_and_a_reader_at_once() {
    let dir = TempDir::new();
    let path = dir.0.join("rw.db");
    let db = Db::connect(path.to_str().expect("a UTF-8 path")).expect("file-backed SQLite");
    setup(&mut db.get().expect("a connection")).expect("the rows");
    let written = AtomicUsize::new(0);
    let write = |c: &mut AnyConnection| write_step(c, &written);
    let (writer, reader) = at_once(&db, 50, write, read_step);
    assert!(
        writer.is_empty() && reader.is_empty(),
        "{writer:?} / {reader:?}"
    );
    drop(db);
}
