//! Transactions the server aborted, or did not: a value refused while
//! binding leaves the transaction usable; a failed `COMMIT` on PostgreSQL
//! drops what the block cached and runs no callback; a deadlock inside a
//! savepoint on MySQL (which rolls the whole transaction back) fails the
//! enclosing block instead of committing it; diesel's own `transaction`
//! keeps the same cache rule.

use std::sync::{Arc, Barrier, Mutex};

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use orm_core::prelude::*;
use orm_core::{
    assert_num_queries, atomic, on_commit, AnyConnection, BackendKind, OrmError, RowLock,
};
use orm_tests::backend_tests;
use orm_tests::harness::TestDb;
use orm_tests::polls::*;

/// A copy of `row` with a value `backend` cannot store (refused while
/// binding, before the statement is sent).
fn unstorable(backend: BackendKind, row: &Everything) -> Everything {
    match backend {
        BackendKind::Postgres => {
            let moment = NaiveDate::from_ymd_opt(-5000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
            Everything {
                moment: moment.unwrap_or_default(),
                ..row.clone()
            }
        }
        _ => Everything {
            maybe_double: Some(f64::NAN),
            ..row.clone()
        },
    }
}

fn tag_named(conn: &mut AnyConnection, name: &str) -> orm_core::Result<i64> {
    Tag::objects()
        .filter(tag::name.eq(name.to_owned()))
        .count(conn)
}

backend_tests! {
    fn a_value_refused_while_binding_leaves_the_transaction_usable(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let (mut row, _) = Everything::samples();
        row.save(&mut conn)?;
        atomic(&mut conn, |conn| {
            create_tags(conn, &["kept"])?;
            // A save with a key (an upsert, a statement without rows).
            let err = unstorable(db.backend(), &row).save(conn).unwrap_err();
            assert!(matches!(err, OrmError::Value { .. }), "{err}");
            Ok::<_, OrmError>(())
        })?;
        assert_eq!(tag_named(&mut conn, "kept")?, 1);
        Ok(())
    }

    fn a_failed_commit_on_postgresql_drops_what_the_block_cached(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        if db.backend() != BackendKind::Postgres {
            // Only PostgreSQL defers a constraint to COMMIT.
            return Ok(());
        }
        conn.batch_execute(
            "ALTER TABLE author ADD CONSTRAINT author_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
        )?;
        let tags = create_tags(&mut conn, &["a"])?;
        let q = create_question(&mut conn, "q")?;
        assert!(q.tags().all(&mut conn)?.is_empty());
        let callbacks = Arc::new(Mutex::new(0));
        let result = atomic(&mut conn, |conn| {
            q.tags().add(conn, &tags)?;
            let counter = Arc::clone(&callbacks);
            on_commit(conn, move || *counter.lock().unwrap_or_else(|e| e.into_inner()) += 1)?;
            for _ in 0..2 {
                Author { name: "twice".into(), ..Default::default() }.save(conn)?;
            }
            Ok::<_, OrmError>(())
        });
        assert!(matches!(result, Err(OrmError::Database(_))), "{result:?}");
        assert_eq!(*callbacks.lock().unwrap_or_else(|e| e.into_inner()), 0);
        // The link the block cached was rolled back: read again, gone.
        let after = assert_num_queries(&mut conn, 1, |c| q.tags().all(c))?;
        assert!(after.is_empty());
        Ok(())
    }

    fn what_diesels_own_transaction_cached_is_dropped_when_postgresql_rolls_it_back(db) {
        use diesel::Connection;
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        if db.backend() != BackendKind::Postgres {
            // Only PostgreSQL defers a constraint to COMMIT and turns the
            // COMMIT of an aborted transaction into a rollback.
            return Ok(());
        }
        conn.batch_execute(
            "ALTER TABLE author ADD CONSTRAINT author_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
        )?;
        let tags = create_tags(&mut conn, &["a"])?;
        let q = create_question(&mut conn, "q")?;
        assert!(q.tags().all(&mut conn)?.is_empty());
        // The COMMIT fails (the deferred constraint).
        let result = conn.transaction(|conn| {
            q.tags().add(conn, &tags)?;
            for _ in 0..2 {
                Author { name: "twice".into(), ..Default::default() }.save(conn)?;
            }
            Ok::<_, OrmError>(())
        });
        assert!(matches!(result, Err(OrmError::Database(_))), "{result:?}");
        let after = assert_num_queries(&mut conn, 1, |c| q.tags().all(c))?;
        assert!(after.is_empty(), "the link was rolled back");
        // A failed statement swallowed: diesel's COMMIT "succeeds", and
        // PostgreSQL rolls back.
        conn.transaction(|conn| {
            q.tags().add(conn, &tags)?;
            assert!(conn.batch_execute("SELECT * FROM no_such_table").is_err());
            Ok::<_, OrmError>(())
        })?;
        let after = assert_num_queries(&mut conn, 1, |c| q.tags().all(c))?;
        assert!(after.is_empty(), "the link was rolled back");
        Ok(())
    }

    fn a_deadlock_in_a_savepoint_on_mysql_fails_the_enclosing_block(db) {
        deadlock_in_a_savepoint(db, false)
    }

    fn a_deadlock_in_a_batch_statement_on_mysql_fails_the_enclosing_block_too(db) {
        // diesel reports 1213 from `batch_execute` by its message only.
        deadlock_in_a_savepoint(db, true)
    }
}

/// A deadlock inside a nested `atomic` on MySQL, whose victim's last
/// statement is prepared or (`batch`) sent by `batch_execute`: the
/// enclosing block fails, commits nothing and runs no callback.
fn deadlock_in_a_savepoint(db: &TestDb, batch: bool) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    create_all(&mut conn)?;
    if db.backend() != BackendKind::Mysql {
        // PostgreSQL rolls a savepoint back alone; SQLite has no
        // concurrent writers.
        return Ok(());
    }
    create_tags(&mut conn, &["r1", "r2"])?;
    let mut other = db.get()?;
    let barrier = Barrier::new(2);
    let lock = |conn: &mut AnyConnection, name: &str| {
        Tag::objects()
            .filter(tag::name.eq(name.to_owned()))
            .select_for_update(RowLock::Wait)
            .get(conn)
            .map(|_| ())
    };
    let last_lock = |conn: &mut AnyConnection, name: &str| {
        if batch {
            let table = Tag::meta().table;
            Ok(conn.batch_execute(&format!(
                "SELECT id FROM {table} WHERE name = '{name}' FOR UPDATE"
            ))?)
        } else {
            lock(conn, name)
        }
    };
    let callbacks = Arc::new(Mutex::new(0));
    let (mine, theirs) = std::thread::scope(|scope| {
        let theirs = scope.spawn(|| {
            atomic(&mut other, |c| {
                // More rows written than the other side: InnoDB picks
                // the smaller transaction, the other one, as victim.
                let names: Vec<String> = (0..20).map(|i| format!("bulk{i}")).collect();
                create_tags(c, &names.iter().map(String::as_str).collect::<Vec<_>>())?;
                lock(c, "r2")?;
                barrier.wait();
                lock(c, "r1")
            })
        });
        let mine = atomic(&mut conn, |c| {
            create_tags(c, &["outer"])?;
            let counter = Arc::clone(&callbacks);
            on_commit(c, move || {
                *counter.lock().unwrap_or_else(|e| e.into_inner()) += 1
            })?;
            let inner = atomic(c, |c| {
                lock(c, "r1")?;
                barrier.wait();
                last_lock(c, "r2")
            });
            assert!(inner.is_err(), "the victim");
            // Swallowed: the block goes on as if the savepoint alone
            // had rolled back.
            Ok::<_, OrmError>(())
        });
        (mine, theirs.join())
    });
    let err = mine.unwrap_err();
    assert!(
        matches!(&err, OrmError::Transaction { reason } if reason.contains("deadlock")),
        "{err}"
    );
    assert!(theirs.is_ok_and(|r| r.is_ok()));
    assert_eq!(*callbacks.lock().unwrap_or_else(|e| e.into_inner()), 0);
    assert_eq!(tag_named(&mut conn, "outer")?, 0);
    Ok(())
}
