//! Sixteen threads sharing a pool of four, mixing reads and writes (a text
//! update read and written in one transaction, a many-to-many `set`, a new
//! child) for two seconds: no error on
//! any backend (on SQLite a file in WAL mode, write transactions taking
//! the lock up front), and every thread's last write is what the database
//! holds afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orm_core::prelude::*;
use orm_core::{write_transaction, BackendKind, Db};
use orm_tests::harness::run_on;
use orm_tests::polls::*;

const THREADS: usize = 16;

/// What one thread wrote last.
struct Last {
    text: String,
    tags: Vec<String>,
    choices: i64,
}

/// Names the step an error came from.
fn step<T>(name: &'static str, result: orm_core::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{name}: {e}"))
}

/// One thread's loop over its own question; returns what it wrote last.
fn work(db: &Db, question: i64, tags: &[Tag], round: &mut usize) -> Result<Last, String> {
    let start = Instant::now();
    let mut last = Last {
        text: String::new(),
        tags: Vec::new(),
        choices: 0,
    };
    while start.elapsed() < Duration::from_secs(2) {
        *round += 1;
        let mut conn = step("checkout", db.get())?;
        // Read, then write, in one transaction: on SQLite the write lock is
        // taken up front, so the read cannot go stale and turn the write
        // into "database is locked".
        let q = step(
            "get and save",
            write_transaction(&mut conn, |conn| {
                let mut q = Question::get(conn, question)?;
                q.question_text = format!("q{question} round {round}");
                q.save(conn)?;
                Ok(q)
            }),
        )?;
        last.text = q.question_text.clone();
        let chosen: Vec<Tag> = tags
            .iter()
            .enumerate()
            .filter(|(i, _)| (*round >> i) & 1 == 1)
            .map(|(_, t)| t.clone())
            .collect();
        step("tags().set", q.tags().set(&mut conn, &chosen))?;
        last.tags = chosen.iter().map(|t| t.name.clone()).collect();
        let choice = Choice {
            choice_text: format!("c{round}"),
            ..Default::default()
        };
        step("choices().create", q.choices().create(&mut conn, choice))?;
        last.choices += 1;
        // A read between the writes.
        step("count", Question::objects().count(&mut conn))?;
    }
    Ok(last)
}

fn hammer(db: Db) -> orm_core::Result<()> {
    let db = Arc::new(db);
    let mut conn = db.get()?;
    create_all(&mut conn)?;
    let mut tags: Vec<Tag> = ["a", "b", "c"]
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(&mut conn, &mut tags)?;
    let mut questions: Vec<Question> = (0..THREADS)
        .map(|i| Question {
            question_text: format!("q{i}"),
            ..Default::default()
        })
        .collect();
    Question::objects().bulk_create(&mut conn, &mut questions)?;
    drop(conn);
    let tags = Arc::new(tags);
    let workers: Vec<_> = questions
        .iter()
        .map(|q| {
            let (db, tags) = (Arc::clone(&db), Arc::clone(&tags));
            let id = q.id.unwrap_or_default();
            std::thread::spawn(move || {
                let mut round = 0;
                let result = work(&db, id, &tags, &mut round);
                (id, round, result)
            })
        })
        .collect();
    let mut conn = db.get()?;
    for worker in workers {
        let (id, round, result) = worker.join().expect("a worker panicked");
        let last = result.unwrap_or_else(|e| panic!("question {id}, round {round}: {e}"));
        let stored = Question::get(&mut conn, id)?;
        assert_eq!(stored.question_text, last.text);
        let names: Vec<String> = stored
            .tags()
            .all(&mut conn)?
            .iter()
            .map(|t| t.name.clone())
            .collect();
        assert_eq!(names, last.tags);
        assert_eq!(stored.choices().count(&mut conn)?, last.choices);
    }
    Ok(())
}

fn pool_of_four(url: &str) -> orm_core::Result<Db> {
    Db::builder(url).max_connections(4).build()
}

#[test]
fn sqlite_file() {
    let path = std::env::temp_dir().join(format!("orm-concurrency-{}.db", std::process::id()));
    let result = pool_of_four(&path.to_string_lossy()).and_then(hammer);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn postgres() {
    run_on(BackendKind::Postgres, |db| hammer(pool_of_four(&db.url)?));
}

#[cfg(feature = "mysql")]
#[test]
fn mysql() {
    run_on(BackendKind::Mysql, |db| hammer(pool_of_four(&db.url)?));
}
