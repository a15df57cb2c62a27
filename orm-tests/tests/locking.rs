//! `select_for_update`: rows locked until the transaction ends, `NOWAIT`
//! and `SKIP LOCKED` against a second connection, refused outside a
//! transaction; on SQLite the write transaction is the lock.

use diesel::Connection;
use orm_core::prelude::*;
use orm_core::{capture_queries, write_transaction, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

backend_tests! {
    fn select_for_update_locks_until_the_transaction_ends(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut tags: Vec<Tag> = ["a", "b"]
            .iter()
            .map(|n| Tag { name: (*n).into(), ..Default::default() })
            .collect();
        Tag::objects().bulk_create(&mut conn, &mut tags)?;
        let a = Tag::objects().filter(tag::name.eq("a"));
        // Outside a transaction: refused.
        let err = a.clone().select_for_update(RowLock::Wait).get(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err:?}");
        if db.backend() == BackendKind::Sqlite {
            // No row locks: the write transaction holds the database.
            let (locked, log) = capture_queries(&mut conn, |c| {
                write_transaction(c, |c| a.clone().select_for_update(RowLock::NoWait).get(c))
            });
            assert_eq!(locked?.name, "a");
            assert!(log.queries().iter().all(|q| !q.contains("FOR UPDATE")));
            return Ok(());
        }
        let mut other = db.get()?;
        conn.transaction(|conn| {
            let (locked, log) = capture_queries(conn, |c| a.clone().select_for_update(RowLock::Wait).get(c));
            assert_eq!(locked?.name, "a");
            assert!(log.queries()[0].contains("FOR UPDATE"), "{:?}", log.queries());
            // Another connection: NOWAIT fails at once, SKIP LOCKED leaves
            // the locked row out, an unlocked row is free.
            other.transaction(|other| {
                let err = a.clone().select_for_update(RowLock::NoWait).get(other).unwrap_err();
                assert!(matches!(err, OrmError::Database(_)), "{err:?}");
                Ok::<_, OrmError>(())
            })?;
            other.transaction(|other| {
                let free = Tag::objects().select_for_update(RowLock::SkipLocked).load(other)?;
                assert_eq!(free.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"]);
                // A job queue reading keys only locks them too.
                let skip = Tag::objects().select_for_update(RowLock::SkipLocked);
                let (names, log) = capture_queries(other, |c| skip.values_list(c, (tag::name,)));
                assert_eq!(names?, [("b".to_string(),)]);
                assert!(log.queries()[0].contains("FOR UPDATE") && log.queries()[0].contains("SKIP LOCKED"), "{:?}", log.queries());
                let counted = skip.annotate_count(other, Tag::QUESTIONS)?;
                assert_eq!(counted.iter().map(|(t, _)| t.name.as_str()).collect::<Vec<_>>(), ["b"]);
                Ok::<_, OrmError>(())
            })?;
            Ok::<_, OrmError>(())
        })?;
        // Committed: the lock is gone.
        other.transaction(|other| {
            assert_eq!(a.clone().select_for_update(RowLock::NoWait).get(other)?.name, "a");
            Ok::<_, OrmError>(())
        })?;
        conn.transaction(|conn| {
            // distinct() adds nothing to model rows, so they lock; distinct
            // values cannot be locked (PostgreSQL refuses it).
            let distinct = Tag::objects().distinct().select_for_update(RowLock::Wait);
            assert_eq!(distinct.load(conn)?.len(), 2);
            let err = distinct.values_list::<_, (String,)>(conn, (tag::name,)).unwrap_err();
            assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("DISTINCT")), "{err}");
            Ok::<_, OrmError>(())
        })?;
        // With select_related, PostgreSQL locks the model's rows only.
        conn.transaction(|conn| {
            let rows = Question::objects()
                .select_related(Question::AUTHOR)
                .select_for_update(RowLock::Wait)
                .load(conn)?;
            assert!(rows.is_empty());
            Ok::<_, OrmError>(())
        })?;
        Ok(())
    }
}
