//! A connection dropped in the middle of a many-to-many `set`: the write is
//! one transaction, so the database keeps the old links, the cache keeps the
//! old rows, and the error is typed. PostgreSQL and MariaDB (an embedded
//! SQLite connection cannot drop).

use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::{Connection, RunQueryDsl};
use orm_core::prelude::*;
use orm_core::{AnyConnection, BackendKind, OrmError};
use orm_tests::harness::{run_on, TestDb};
use orm_tests::polls::*;

/// Kills the connection (from another one) when it is about to run a
/// statement containing `trigger`.
struct KillOn {
    trigger: &'static str,
    kill: Option<Box<dyn FnMut() + Send>>,
}

impl Instrumentation for KillOn {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if query.to_string().contains(self.trigger) {
                if let Some(mut kill) = self.kill.take() {
                    kill();
                }
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

fn connection_id(conn: &mut AnyConnection) -> orm_core::Result<i64> {
    let sql = match conn.backend() {
        BackendKind::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT) AS id",
        _ => "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id",
    };
    let rows: Vec<Id> = diesel::sql_query(sql).load(conn)?;
    rows.first().map(|r| r.id).ok_or(OrmError::NotFound {
        model: "connection id",
    })
}

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
    let backend = db.backend();
    let killer = Arc::new(Mutex::new(db.get()?));
    let kill: Box<dyn FnMut() + Send> = Box::new(move || {
        let sql = match backend {
            BackendKind::Postgres => format!("SELECT pg_terminate_backend({victim})"),
            _ => format!("KILL {victim}"),
        };
        if let Ok(mut k) = killer.lock() {
            let _ = k.batch_execute(&sql);
        }
    });
    conn.set_instrumentation(KillOn {
        trigger: "INSERT INTO",
        kill: Some(kill),
    });
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
