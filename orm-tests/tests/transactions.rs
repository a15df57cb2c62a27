//! `atomic`: nested savepoints, `on_commit` callbacks, and relation caches
//! written inside a transaction that rolls back (many-to-many, reverse
//! foreign key, forward foreign key): after the rollback the next read
//! queries and no longer sees the rolled-back state; after a commit it
//! still costs no query. On every backend.

use std::borrow::Borrow;
use std::sync::{Arc, Mutex};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use orm_core::fetch::FetchMode;
use orm_core::prelude::*;
use orm_core::{
    assert_num_queries, atomic, capture_queries, on_commit, AnyConnection, BackendKind, OrmError,
};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// What a block returns to roll its transaction back.
fn rollback<T>() -> orm_core::Result<T> {
    Err(OrmError::Transaction {
        reason: "rolled back on purpose",
    })
}

fn names(tags: &[impl Borrow<Tag>]) -> Vec<&str> {
    tags.iter().map(|t| t.borrow().name.as_str()).collect()
}

/// Records the callbacks that ran, in order.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<&'static str>>>);

impl Sent {
    fn push(&self, conn: &mut AnyConnection, what: &'static str) -> orm_core::Result<()> {
        let log = self.clone();
        on_commit(conn, move || {
            log.0.lock().unwrap_or_else(|e| e.into_inner()).push(what)
        })
    }

    fn taken(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

backend_tests! {
    fn a_block_that_replaces_the_instrumentation_commits_but_runs_no_callback(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let sent = Sent::default();
        atomic(&mut conn, |conn| {
            sent.push(conn, "mail")?;
            // The pool's bookkeeping no longer sees this transaction: it
            // cannot tell a commit from a PostgreSQL COMMIT that rolls an
            // aborted transaction back, so the callback is not run.
            conn.set_instrumentation(orm_core::QueryLog::default());
            create_tags(conn, &["kept"])?;
            Ok::<_, OrmError>(())
        })?;
        assert!(sent.taken().is_empty());
        assert_eq!(Tag::objects().count(&mut conn)?, 1);
        Ok(())
    }

    fn atomic_nests_savepoints_and_runs_on_commit_callbacks_after_the_outermost_commit(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let sent = Sent::default();
        // Outside a transaction: at once.
        sent.push(&mut conn, "now")?;
        assert_eq!(sent.taken(), ["now"]);

        let (result, log) = capture_queries(&mut conn, |conn| {
            atomic(conn, |conn| {
                create_tags(conn, &["outer"])?;
                sent.push(conn, "outer")?;
                atomic(conn, |conn| {
                    create_tags(conn, &["kept"])?;
                    sent.push(conn, "kept")
                })?;
                let failed: orm_core::Result<()> = atomic(conn, |conn| {
                    create_tags(conn, &["dropped"])?;
                    sent.push(conn, "dropped")?;
                    rollback()
                });
                assert!(matches!(failed, Err(OrmError::Transaction { .. })), "{failed:?}");
                // Nothing runs before the outermost commit.
                assert!(sent.taken().is_empty());
                Ok::<_, OrmError>(())
            })
        });
        result?;
        // Three INSERTs (each with `SELECT LAST_INSERT_ID()` on MySQL);
        // BEGIN, savepoints, releases, rollbacks and COMMIT are not queries.
        let per_insert = if db.backend() == BackendKind::Mysql { 2 } else { 1 };
        assert_eq!(log.count(), 3 * per_insert, "{:?}", log.all_statements());
        assert!(log.all_statements().len() > 3);
        assert_eq!(sent.taken(), ["outer", "kept"]);
        let stored = Tag::objects().values_list(&mut conn, (tag::name,))?;
        let mut stored: Vec<String> = stored.into_iter().map(|(n,)| n).collect();
        stored.sort();
        assert_eq!(stored, ["kept", "outer"]);

        // A rollback of the outermost transaction drops every callback
        // and every row.
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            create_tags(conn, &["gone"])?;
            sent.push(conn, "gone")?;
            atomic(conn, |conn| sent.push(conn, "inner gone"))?;
            rollback()
        });
        assert!(failed.is_err());
        assert!(sent.taken().is_empty());
        assert_eq!(Tag::objects().filter(tag::name.eq("gone")).count(&mut conn)?, 0);

        // A transaction not begun by atomic cannot run callbacks: an error.
        let refused = conn.transaction(|conn| sent.push(conn, "never"));
        assert!(matches!(refused, Err(OrmError::Transaction { .. })), "{refused:?}");
        assert!(sent.taken().is_empty());
        Ok(())
    }

    fn many_to_many_cache_written_in_a_rolled_back_transaction_is_reloaded(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let q = create_question(&mut conn, "q")?;
        let tags = create_tags(&mut conn, &["a", "b"])?;
        q.tags().set(&mut conn, &tags[..1])?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["a"]);

        // add, rolled back: the cache saw "b" inside, not after.
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            q.tags().add(conn, &tags[1..])?;
            assert_eq!(names(&assert_num_queries(conn, 0, |c| q.tags().all(c))?), ["a", "b"]);
            rollback()
        });
        assert!(failed.is_err());
        assert!(!q.tags().is_cached());
        assert_eq!(names(&assert_num_queries(&mut conn, 2, |c| q.tags().all(c))?), ["a"]);

        // set, rolled back.
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            q.tags().set(conn, &tags[1..])?;
            rollback()
        });
        assert!(failed.is_err());
        assert_eq!(names(&assert_num_queries(&mut conn, 2, |c| q.tags().all(c))?), ["a"]);

        // add in a savepoint that rolls back, inside a transaction that
        // commits: reloaded inside, then cached for good.
        atomic(&mut conn, |conn| {
            let failed: orm_core::Result<()> = atomic(conn, |conn| {
                q.tags().add(conn, &tags[1..])?;
                rollback()
            });
            assert!(failed.is_err());
            assert_eq!(names(&assert_num_queries(conn, 2, |c| q.tags().all(c))?), ["a"]);
            Ok::<_, OrmError>(())
        })?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["a"]);

        // set, committed: the next read costs nothing.
        atomic(&mut conn, |conn| q.tags().set(conn, &tags[1..]))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["b"]);
        Ok(())
    }

    fn reverse_foreign_key_cache_written_in_a_rolled_back_transaction_is_reloaded(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let q = create_question(&mut conn, "q")?;
        let other = create_question(&mut conn, "other")?;
        assert!(assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?.is_empty());

        // create, rolled back.
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            q.choices().create(conn, Choice { choice_text: "x".into(), ..Default::default() })?;
            assert_eq!(assert_num_queries(conn, 0, |c| q.choices().all(c))?.len(), 1);
            rollback()
        });
        assert!(failed.is_err());
        assert!(assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?.is_empty());

        // add (moving another question's choice here), rolled back.
        let mut moved = other.choices().create(
            &mut conn,
            Choice { choice_text: "moved".into(), ..Default::default() },
        )?;
        assert_eq!(other.choices().all(&mut conn)?.len(), 1);
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            q.choices().add(conn, std::slice::from_mut(&mut moved))?;
            assert_eq!(assert_num_queries(conn, 0, |c| q.choices().all(c))?.len(), 1);
            rollback()
        });
        assert!(failed.is_err());
        assert!(assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?.is_empty());
        // The other side's cache was filled before the transaction and
        // not written in it: still trusted.
        assert_eq!(assert_num_queries(&mut conn, 0, |c| other.choices().all(c))?.len(), 1);

        // A prefetch inside a rolled-back transaction is not trusted
        // either.
        let mut loaded = Vec::new();
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            q.choices().create(conn, Choice { choice_text: "y".into(), ..Default::default() })?;
            loaded = Question::objects()
                .filter(question::id.eq(q.id.unwrap_or_default()))
                .prefetch_related(Question::CHOICES)
                .load(conn)?;
            assert_eq!(assert_num_queries(conn, 0, |c| loaded[0].choices().all(c))?.len(), 1);
            rollback()
        });
        assert!(failed.is_err());
        assert!(assert_num_queries(&mut conn, 1, |c| loaded[0].choices().all(c))?.is_empty());

        // create, committed (the cache filled again first).
        assert!(assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?.is_empty());
        atomic(&mut conn, |conn| {
            q.choices().create(conn, Choice { choice_text: "z".into(), ..Default::default() })
        })?;
        let cached = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?;
        assert_eq!(cached.iter().map(|c| c.choice_text.as_str()).collect::<Vec<_>>(), ["z"]);
        Ok(())
    }

    fn forward_foreign_key_cache_written_in_a_rolled_back_transaction_is_reloaded(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut q = create_question(&mut conn, "q")?;
        q.set_author(ada.clone());
        q.save(&mut conn)?;
        let id = q.id.unwrap_or_default();

        // Loaded inside a transaction that renamed the author, rolled back.
        let fresh = Question::get(&mut conn, id)?;
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            Author::objects().update(conn, author::name.eq("Renamed"))?;
            let name = assert_num_queries(conn, 1, |c| Ok::<_, OrmError>(fresh.author(c)?.map(|a| a.name.clone())))?;
            assert_eq!(name.as_deref(), Some("Renamed"));
            rollback()
        });
        assert!(failed.is_err());
        let name = assert_num_queries(&mut conn, 1, |c| Ok::<_, OrmError>(fresh.author(c)?.map(|a| a.name.clone())))?;
        assert_eq!(name.as_deref(), Some("Ada"));
        assert_eq!(assert_num_queries(&mut conn, 0, |c| fresh.author(c))?.map(|a| a.name.as_str()), Some("Ada"));

        // set to an author inserted in the transaction, saved, rolled
        // back: the author row is gone, and the next read says so.
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            let mut bob = Author { name: "Bob".into(), ..Default::default() };
            bob.save(conn)?;
            q.set_author(bob);
            q.save(conn)?;
            assert_eq!(assert_num_queries(conn, 0, |c| q.author(c))?.map(|a| a.name.as_str()), Some("Bob"));
            rollback()
        });
        assert!(failed.is_err());
        let err = assert_num_queries(&mut conn, 1, |c| q.author(c).map(|_| ())).unwrap_err();
        assert!(matches!(err, OrmError::RelatedMissing { .. }), "{err:?}");
        assert_eq!(Question::get(&mut conn, id)?.author.key(), ada.id.as_ref());

        // The same, committed: cached, no query.
        atomic(&mut conn, |conn| {
            let mut cy = Author { name: "Cy".into(), ..Default::default() };
            cy.save(conn)?;
            q.set_author(cy);
            q.save(conn)
        })?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| q.author(c))?.map(|a| a.name.as_str()), Some("Cy"));
        Ok(())
    }

    fn peers_reload_together_after_a_rollback(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        for (name, text) in [("Ada", "q1"), ("Bob", "q2"), ("Cy", "q3")] {
            let mut author = Author { name: name.into(), ..Default::default() };
            author.save(&mut conn)?;
            let mut q = create_question(&mut conn, text)?;
            q.set_author(author);
            q.save(&mut conn)?;
        }
        let questions = Question::objects()
            .order_by(question::id.asc())
            .fetch_mode(FetchMode::Peers)
            .load(&mut conn)?;
        let name = |q: &Question, c: &mut AnyConnection| -> orm_core::Result<String> {
            Ok(q.author(c)?.map(|a| a.name.clone()).unwrap_or_default())
        };
        let failed: orm_core::Result<()> = atomic(&mut conn, |conn| {
            Author::objects().update(conn, author::name.eq("X"))?;
            // One query for the three peers.
            assert_eq!(assert_num_queries(conn, 1, |c| name(&questions[0], c))?, "X");
            assert_eq!(assert_num_queries(conn, 0, |c| name(&questions[2], c))?, "X");
            rollback()
        });
        assert!(failed.is_err());
        // Rolled back: the peers reload, again in one query for all three.
        assert_eq!(assert_num_queries(&mut conn, 1, |c| name(&questions[1], c))?, "Bob");
        let rest = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>([name(&questions[0], c)?, name(&questions[2], c)?])
        })?;
        assert_eq!(rest, ["Ada", "Cy"]);
        Ok(())
    }

    fn a_swallowed_error_on_postgresql_rolls_the_block_back(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        create_tags(&mut conn, &["taken"])?;
        let sent = Sent::default();
        let result: orm_core::Result<()> = atomic(&mut conn, |conn| {
            create_tags(conn, &["new"])?;
            sent.push(conn, "sent")?;
            // A failing statement (not in a savepoint), swallowed.
            assert!(conn.batch_execute("SELECT * FROM no_such_table").is_err());
            Ok(())
        });
        let kept = Tag::objects().filter(tag::name.eq("new")).count(&mut conn)?;
        if db.backend() == BackendKind::Postgres {
            // PostgreSQL aborted the transaction: reported, nothing kept,
            // no callback.
            assert!(matches!(result, Err(OrmError::Transaction { .. })), "{result:?}");
            assert_eq!((kept, sent.taken().len()), (0, 0));
        } else {
            // SQLite and MySQL go on after a failed statement.
            result?;
            assert_eq!((kept, sent.taken()), (1, vec!["sent"]));
        }
        // In a nested atomic the failure is the savepoint's only.
        atomic(&mut conn, |conn| {
            create_tags(conn, &["newer"])?;
            let inner = atomic(conn, |conn| conn.batch_execute("SELECT * FROM no_such_table").map_err(OrmError::from));
            assert!(inner.is_err());
            Ok::<_, OrmError>(())
        })?;
        assert_eq!(Tag::objects().filter(tag::name.eq("newer")).count(&mut conn)?, 1);
        Ok(())
    }

    fn a_panic_inside_a_block_rolls_its_level_back(db) {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let sent = Sent::default();
        // Caught inside the outer block: the savepoint is rolled back, the
        // outer block goes on and commits.
        atomic(&mut conn, |conn| {
            create_tags(conn, &["before"])?;
            let caught = catch_unwind(AssertUnwindSafe(|| {
                atomic(conn, |conn| -> orm_core::Result<()> {
                    create_tags(conn, &["in the panic"])?;
                    panic!("a bug inside the savepoint")
                })
            }));
            assert!(caught.is_err());
            sent.push(conn, "outer")
        })?;
        assert_eq!(sent.taken(), ["outer"]);
        // Caught outside: the whole transaction is rolled back, and the
        // next block on the connection is a transaction of its own.
        let caught = catch_unwind(AssertUnwindSafe(|| {
            atomic(&mut conn, |conn| {
                create_tags(conn, &["lost"])?;
                atomic(conn, |_| -> orm_core::Result<()> { panic!("a bug two levels down") })
            })
        }));
        assert!(caught.is_err());
        atomic(&mut conn, |conn| {
            create_tags(conn, &["after"])?;
            sent.push(conn, "after")
        })?;
        assert_eq!(sent.taken(), ["after"]);
        // A nested diesel transaction left open by a caught panic: the
        // block is rolled back instead of committing only that level.
        let left_open: orm_core::Result<()> = atomic(&mut conn, |conn| {
            create_tags(conn, &["left open"])?;
            let caught = catch_unwind(AssertUnwindSafe(|| {
                conn.transaction(|_| -> orm_core::Result<()> { panic!("inside diesel's own") })
            }));
            assert!(caught.is_err());
            sent.push(conn, "left open")
        });
        assert!(matches!(left_open, Err(OrmError::Transaction { .. })), "{left_open:?}");
        assert!(sent.taken().is_empty());
        let mut stored: Vec<String> =
            Tag::objects().values_list(&mut conn, (tag::name,))?.into_iter().map(|(n,)| n).collect();
        stored.sort();
        assert_eq!(stored, ["after", "before"]);
        Ok(())
    }

    fn ddl_inside_a_nested_block_on_mysql_leaves_the_connection_usable(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        if db.backend() != BackendKind::Mysql {
            // Only MySQL commits implicitly around DDL.
            return Ok(());
        }
        let sent = Sent::default();
        atomic(&mut conn, |conn| {
            // The implicit commit ends the savepoints: the inner block's
            // RELEASE fails, and its rollback too.
            let inner = atomic(conn, |conn| conn.batch_execute("CREATE TABLE tx_ddl (i INTEGER)").map_err(OrmError::from));
            assert!(inner.is_err(), "{inner:?}");
            Ok::<_, OrmError>(())
        })?;
        conn.batch_execute("DROP TABLE tx_ddl")?;
        // The connection is out of any transaction: the next block is one
        // of its own, and its callback runs at its commit.
        atomic(&mut conn, |conn| {
            create_tags(conn, &["after"])?;
            sent.push(conn, "after")
        })?;
        assert_eq!(sent.taken(), ["after"]);
        Ok(())
    }

    fn the_crates_own_writes_begin_as_write_transactions(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let tags = create_tags(&mut conn, &["a", "b"])?;
        let q = create_question(&mut conn, "q")?;
        // A many-to-many `set` is one of the crate's own writes: it takes
        // SQLite's write lock up front, and on MySQL runs at READ
        // COMMITTED (no gap locks for neighbouring owners to deadlock on).
        let (result, log) = capture_queries(&mut conn, |conn| q.tags().set(conn, &tags));
        result?;
        let begin = match db.backend() {
            BackendKind::Sqlite => "BEGIN IMMEDIATE",
            BackendKind::Postgres => "BEGIN",
            BackendKind::Mysql => "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN",
        };
        let statements = log.all_statements();
        assert_eq!(statements.first().map(String::as_str), Some(begin), "{statements:?}");
        // DELETE, INSERT, COMMIT (then, on a server, a read of the
        // collation's order): the first statement is not a query.
        assert_eq!(statements[3], "COMMIT", "{statements:?}");
        assert_eq!(log.count(), statements.len() - 2, "{statements:?}");

        // Inside the caller's transaction it is a savepoint, and the
        // caller's transaction keeps the database's level.
        let (result, log) = capture_queries(&mut conn, |conn| {
            atomic(conn, |conn| q.tags().set(conn, &tags[..1]))
        });
        result?;
        let statements = log.all_statements();
        assert_eq!(statements.first().map(String::as_str), Some("BEGIN"), "{statements:?}");
        assert!(statements[1].starts_with("SAVEPOINT"), "{statements:?}");
        assert_eq!(names(&q.tags().all(&mut conn)?), ["a"]);
        Ok(())
    }
}

/// A MySQL server that logs statements (`log_bin` with `binlog_format =
/// STATEMENT`) refuses InnoDB writes at `READ COMMITTED`: a pooled
/// connection knows it from the start (the pool asks), and on another the
/// crate's own write is run again at once at the server's level.
/// `scripts/test.sh` starts such a server (MariaDB on port 3307) and sets
/// `ORM_TEST_MYSQL_BINLOG_URL`.
#[cfg(feature = "mysql")]
#[test]
fn own_writes_fall_back_on_a_mysql_server_that_logs_statements() {
    let Ok(base) = std::env::var("ORM_TEST_MYSQL_BINLOG_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("ORM_TEST_MYSQL_BINLOG_URL is unset and CI=true, so this test fails: scripts/test.sh starts a MariaDB that logs statements and sets it");
        }
        eprintln!("SKIPPED: ORM_TEST_MYSQL_BINLOG_URL is unset (scripts/test.sh sets it)");
        return;
    };
    if let Err(e) = fall_back_on(&base) {
        panic!("test failed on the statement-logging server: {e}");
    }
}

#[cfg(feature = "mysql")]
fn fall_back_on(base: &str) -> orm_core::Result<()> {
    let admin = orm_core::Db::builder(base).max_connections(1).build()?;
    let name = format!("orm_binlog_{}", std::process::id());
    admin
        .get()?
        .batch_execute(&format!("CREATE DATABASE {name}"))?;
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    let url = format!("{server}/{name}");
    let result = (|| {
        let db = orm_core::Db::builder(&url).max_connections(1).build()?;
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        // The pool asked the server when it opened the connection: the
        // crate's writes begin at the server's level at once.
        let (tags, log) = capture_queries(&mut conn, |conn| create_tags(conn, &["a", "b"]));
        let tags = tags?;
        let statements = log.all_statements();
        assert_eq!(statements[0], "BEGIN", "{statements:?}");
        assert!(
            !statements.iter().any(|s| s == "ROLLBACK"),
            "{statements:?}"
        );
        let q = create_question(&mut conn, "q")?;
        q.tags().set(&mut conn, &tags)?;
        assert_eq!(names(&q.tags().all(&mut conn)?), ["a", "b"]);

        // A connection the pool did not open learns it from the refusal:
        // each write is refused at READ COMMITTED, rolled back and run
        // again at the server's level.
        let mut direct = AnyConnection::establish(&url)
            .unwrap_or_else(|e| panic!("connecting without the pool: {e}"));
        let log = orm_core::QueryLog::default();
        direct.set_instrumentation(log.clone());
        create_tags(&mut direct, &["c"])?;
        let statements = log.snapshot().all_statements().to_vec();
        assert_eq!(
            statements[0], "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN",
            "{statements:?}"
        );
        assert!(statements.iter().any(|s| s == "ROLLBACK"), "{statements:?}");
        assert_eq!(
            statements.iter().filter(|s| *s == "BEGIN").count(),
            1,
            "{statements:?}"
        );
        assert_eq!(Tag::objects().count(&mut conn)?, 3);
        Ok(())
    })();
    admin
        .get()?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
    result
}
