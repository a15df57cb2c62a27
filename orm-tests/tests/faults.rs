//! Faults leave nothing half-done, and the pool heals: killed connections
//! are never handed out again, a failed `bulk_create` leaves no key on any
//! object, keys are right whatever MySQL's auto-increment step, and
//! connecting to a server that never answers is bounded by the timeout.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use orm_core::prelude::*;
use orm_core::{BackendKind, Db, OrmError};
use orm_tests::backend_tests;
use orm_tests::harness::{connection_id, kill_connection, run_on, KillOn, TestDb};
use orm_tests::polls::*;

/// Sixteen columns and a unique code: a bind-limit chunk holds a few
/// thousand rows, so a `bulk_create` of 4,000 needs two or three.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Wide {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique)]
    pub code: i64,
    pub c1: i32,
    pub c2: i32,
    pub c3: i32,
    pub c4: i32,
    pub c5: i32,
    pub c6: i32,
    pub c7: i32,
    pub c8: i32,
    pub c9: i32,
    pub c10: i32,
    pub c11: i32,
    pub c12: i32,
    pub c13: i32,
    pub c14: i32,
    pub c15: i32,
}

/// 4,000 rows with distinct codes.
fn wide_rows() -> Vec<Wide> {
    (0..4000)
        .map(|code| Wide {
            code,
            ..Default::default()
        })
        .collect()
}

/// After a failed `bulk_create`: no row in the table, no key on any object,
/// and the same objects insert fine (with their own keys) once fixed.
fn nothing_left_behind(
    conn: &mut orm_core::AnyConnection,
    rows: &mut [Wide],
) -> orm_core::Result<()> {
    assert_eq!(Wide::objects().count(conn)?, 0);
    assert!(
        rows.iter().all(|r| r.id.is_none()),
        "a key outlived the failed bulk_create"
    );
    let last = rows.len() - 1;
    rows[last].code = 1_000_000;
    Wide::objects().bulk_create(conn, rows)?;
    let stored: std::collections::HashMap<i64, Option<i64>> = Wide::objects()
        .load(conn)?
        .into_iter()
        .map(|w| (w.code, w.id))
        .collect();
    assert_eq!(stored.len(), rows.len());
    assert!(rows.iter().all(|r| stored.get(&r.code) == Some(&r.id)));
    Ok(())
}

backend_tests! {
    fn a_unique_violation_in_a_later_chunk_leaves_no_key(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_tables(&mut conn, &[Wide::meta()])?;
        let mut rows = wide_rows();
        let last = rows.len() - 1;
        rows[last].code = 0; // the first row's code: fails in the last chunk
        let err = Wide::objects().bulk_create(&mut conn, &mut rows).unwrap_err();
        assert!(matches!(err, OrmError::Database(_)), "{err:?}");
        nothing_left_behind(&mut conn, &mut rows)
    }
}

/// The connection dies (killed by the server) in the second chunk.
fn killed_in_a_later_chunk(db: &TestDb) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    orm_core::schema::create_tables(&mut conn, &[Wide::meta()])?;
    let victim = connection_id(&mut conn)?;
    conn.set_instrumentation(KillOn::connection(db, victim, "INSERT INTO", 2)?);
    let mut rows = wide_rows();
    let err = Wide::objects()
        .bulk_create(&mut conn, &mut rows)
        .unwrap_err();
    assert!(matches!(err, OrmError::Database(_)), "{err:?}");
    drop(conn);
    nothing_left_behind(&mut *db.get()?, &mut rows)
}

/// Kills the pool's idle connection from another one, then checks out
/// six times: each checkout gets a working connection.
fn killed_idle_connections_are_never_handed_out(db: &TestDb) -> orm_core::Result<()> {
    let victim = connection_id(&mut *db.get()?)?;
    let mut killer = Db::connect(&db.url)?.get()?;
    kill_connection(&mut killer, victim)?;
    for _ in 0..6 {
        let mut conn = db.get()?;
        assert_ne!(connection_id(&mut conn)?, victim);
    }
    // Without the check on checkout: the dead connection fails once, is
    // found dead when it comes back and never handed out again.
    let db = Db::builder(&db.url).health_check(false).build()?;
    let victim = connection_id(&mut *db.get()?)?;
    kill_connection(&mut killer, victim)?;
    assert!(connection_id(&mut *db.get()?).is_err());
    for _ in 0..6 {
        let mut conn = db.get()?;
        assert_ne!(connection_id(&mut conn)?, victim);
    }
    Ok(())
}

/// MariaDB with `auto_increment_increment = 2` (Galera, multi-primary):
/// every key `bulk_create` and `save` give is the row's.
fn keys_follow_the_auto_increment_step(db: &TestDb) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    create_all(&mut conn)?;
    conn.batch_execute("SET SESSION auto_increment_increment = 2")?;
    let mut tags: Vec<Tag> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(&mut conn, &mut tags)?;
    let mut one = Tag {
        name: "f".into(),
        ..Default::default()
    };
    one.save(&mut conn)?;
    tags.push(one);
    for tag in &tags {
        let stored = Tag::objects()
            .filter(tag::name.eq(tag.name.clone()))
            .get(&mut conn)?;
        assert_eq!(stored.id, tag.id, "{}", tag.name);
    }
    conn.batch_execute("SET SESSION auto_increment_increment = 1")?;
    Ok(())
}

#[test]
fn killed_in_a_later_chunk_postgres() {
    run_on(BackendKind::Postgres, killed_in_a_later_chunk);
}

#[cfg(feature = "mysql")]
#[test]
fn killed_in_a_later_chunk_mysql() {
    run_on(BackendKind::Mysql, killed_in_a_later_chunk);
}

#[test]
fn killed_idle_connections_are_never_handed_out_postgres() {
    run_on(
        BackendKind::Postgres,
        killed_idle_connections_are_never_handed_out,
    );
}

#[cfg(feature = "mysql")]
#[test]
fn killed_idle_connections_are_never_handed_out_mysql() {
    run_on(
        BackendKind::Mysql,
        killed_idle_connections_are_never_handed_out,
    );
}

#[cfg(feature = "mysql")]
#[test]
fn keys_follow_the_auto_increment_step_mysql() {
    run_on(BackendKind::Mysql, keys_follow_the_auto_increment_step);
}

/// A server that accepts TCP connections and never says a word.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let port = listener.local_addr().expect("a bound port").port();
    let handle = std::thread::spawn(move || {
        // Keep every accepted connection open, unanswered, for a while.
        let mut held = Vec::new();
        let _ = listener.set_nonblocking(true);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (port, handle)
}

/// `build` with a 2 s timeout against a silent server gives up in time
/// (libpq rounds to whole seconds, at least 2), with a typed error.
fn gives_up_on_a_silent_server(scheme: &str, backend: &'static str) {
    let (port, _server) = silent_server();
    let url = format!("{scheme}://root@127.0.0.1:{port}/test");
    let start = Instant::now();
    let err = Db::builder(&url)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}");
    match err {
        OrmError::Connection { backend: b, .. } => assert_eq!(b, backend),
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[test]
fn connecting_to_a_silent_postgres_is_bounded() {
    gives_up_on_a_silent_server("postgres", "PostgreSQL");
}

#[cfg(feature = "mysql")]
#[test]
fn connecting_to_a_silent_mysql_is_bounded() {
    gives_up_on_a_silent_server("mysql", "MySQL");
}
