//! A connection dropped in the middle of a many-to-many `set`: the write is
//! one transaction, so the database keeps the old links, the cache keeps the
//! old rows, and the error is typed. PostgreSQL and MariaDB (an embedded
//! SQLite connection cannot drop).

use diesel::Connection;
use orm_core::prelude::*;
use orm_core::{BackendKind, OrmError};
use orm_tests::harness::{connection_id, run_on, KillOn, TestDb};
use orm_tests::polls::*;

fn body(db: &TestDb) -> orm_core::Result<()> {
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
    let mut q = Question {
        question_text: "q".into(),
        ..Default::default()
    };
    q.save(&mut conn)?;
    q.tags().set(&mut conn, &tags[..1])?;

    let victim = connection_id(&mut conn)?;
    conn.set_instrumentation(KillOn::connection(db, victim, "INSERT INTO", 1)?);
    // set(): DELETE the old link, then the INSERT of the new ones dies.
    let err = q.tags().set(&mut conn, &tags[1..]).unwrap_err();
    assert!(matches!(err, OrmError::Database(_)), "{err}");
    // The cache still holds the rows before the write.
    let cached = q.tags().cached();
    assert_eq!(
        cached.map(|rows| rows.iter().map(|t| t.name.clone()).collect::<Vec<_>>()),
        Some(vec!["a".to_string()])
    );
    drop(conn);
    // The database too: the DELETE was rolled back with the transaction.
    let mut fresh = db.get()?;
    let stored = Question::get(&mut fresh, q.id.unwrap_or_default())?;
    let names: Vec<String> = stored
        .tags()
        .all(&mut fresh)?
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["a"]);
    Ok(())
}

#[test]
fn postgres() {
    run_on(BackendKind::Postgres, body);
}

#[cfg(feature = "mysql")]
#[test]
fn mysql() {
    run_on(BackendKind::Mysql, body);
}
