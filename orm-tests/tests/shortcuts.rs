//! The everyday queryset calls: `earliest` / `latest`, `in_bulk`,
//! `get_or_create` (safe when callers race), `update_or_create`, with
//! their query counts, on every backend.

use std::sync::{Arc, Barrier};

use orm_core::prelude::*;
use orm_core::{assert_num_queries, atomic, capture_queries, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

fn tag(name: &str) -> Tag {
    Tag {
        name: name.into(),
        ..Default::default()
    }
}

backend_tests! {
    fn earliest_latest_and_in_bulk(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        assert!(Tag::objects().earliest(&mut conn, tag::name).unwrap_err().is_not_found());
        let t = create_tags(&mut conn, &["m", "a", "z"])?;
        let first = assert_num_queries(&mut conn, 1, |c| Tag::objects().earliest(c, tag::name))?;
        assert_eq!(first.name, "a");
        assert_eq!(Tag::objects().latest(&mut conn, tag::name)?.name, "z");
        assert_eq!(Tag::objects().filter(tag::name.ne("z")).latest(&mut conn, tag::name)?.name, "m");
        let ids: Vec<i64> = t.iter().filter_map(|t| t.id).collect();
        let missing = ids.iter().max().copied().unwrap_or_default() + 1000;
        let found = assert_num_queries(&mut conn, 1, |c| {
            Tag::objects().in_bulk(c, &[ids[0], ids[2], missing])
        })?;
        assert_eq!(found.len(), 2);
        assert_eq!(found[&ids[0]].name, "m");
        assert_eq!(found[&ids[2]].name, "z");
        // The queryset's filters apply.
        let narrowed = Tag::objects().filter(tag::name.ne("m")).in_bulk(&mut conn, &ids)?;
        assert_eq!(narrowed.len(), 2);
        assert!(!narrowed.contains_key(&ids[0]));
        Ok(())
    }

    fn get_or_create_and_update_or_create(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let rust = Tag::objects().filter(tag::name.eq("rust"));
        let (created, was_created) = assert_num_queries(&mut conn, 1 + db.insert_cost(), |c| {
            rust.get_or_create(c, || tag("rust"))
        })?;
        assert!(was_created && created.id.is_some());
        let (found, was_created) = assert_num_queries(&mut conn, 1, |c| rust.get_or_create(c, || tag("rust")))?;
        assert!(!was_created);
        assert_eq!(found.id, created.id);
        // A row the filter does not find but the constraint does: the
        // INSERT fails in its savepoint, the second SELECT finds nothing,
        // and the constraint's error is returned (not NotFound).
        let err = Tag::objects()
            .filter(tag::name.eq("other"))
            .get_or_create(&mut conn, || tag("rust"))
            .unwrap_err();
        assert!(
            matches!(err, OrmError::Database(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))),
            "{err:?}"
        );
        // update_or_create: SELECT + save when the row exists.
        let (renamed, was_created) = assert_num_queries(&mut conn, 2, |c| {
            rust.update_or_create(c, |t| t.name = "rust-lang".into(), || tag("rust"))
        })?;
        assert!(!was_created);
        assert_eq!(renamed.id, created.id);
        assert_eq!(Tag::get(&mut conn, created.id.unwrap_or_default())?.name, "rust-lang");
        let (new, was_created) = rust.update_or_create(&mut conn, |t| t.name = "never".into(), || tag("rust"))?;
        assert!(was_created);
        assert_ne!(new.id, created.id);
        assert_eq!(Tag::objects().count(&mut conn)?, 2);
        // A distinct queryset, and one with a lock of its own: locked reads.
        let distinct = Tag::objects().filter(tag::name.eq("rust-lang")).distinct();
        let (row, _) = assert_num_queries(&mut conn, 2, |c| distinct.update_or_create(c, |t| t.name = "rust-2".into(), || tag("x")))?;
        assert_eq!(row.name, "rust-2");
        let nowait = Tag::objects().filter(tag::name.eq("rust-2")).select_for_update(orm_core::RowLock::NoWait);
        let (row, created) = nowait.update_or_create(&mut conn, |t| t.name = "rust-3".into(), || tag("x"))?;
        assert_eq!((row.name.as_str(), created), ("rust-3", false));
        Ok(())
    }

    fn last_reverses_the_default_ordering(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        assert!(Tag::objects().last(&mut conn)?.is_none());
        let t = create_tags(&mut conn, &["m", "a", "z"])?;
        // Tag's ordering is "name".
        let last = assert_num_queries(&mut conn, 1, |c| Tag::objects().last(c))?;
        assert_eq!(last.map(|t| t.name).as_deref(), Some("z"));
        assert_eq!(Tag::objects().filter(tag::name.ne("z")).last(&mut conn)?.map(|t| t.name).as_deref(), Some("m"));
        // Unordered, or a model without ordering: by descending key.
        let newest = t.iter().filter_map(|t| t.id).max();
        assert_eq!(Tag::objects().unordered().last(&mut conn)?.and_then(|t| t.id), newest);
        let err = Tag::objects().order_by(tag::id).last(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err:?}");
        // Question's ordering is "-pub_date, id": reversed, the oldest first.
        let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, d).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
        for (text, d) in [("new", 3), ("old", 1), ("mid", 2)] {
            Question { question_text: text.into(), pub_date: day(d), ..Default::default() }.save(&mut conn)?;
        }
        assert_eq!(Question::objects().last(&mut conn)?.map(|q| q.question_text).as_deref(), Some("old"));
        assert_eq!(Question::objects().first(&mut conn)?.map(|q| q.question_text).as_deref(), Some("new"));
        Ok(())
    }

    fn first_keeps_the_slice_and_reordering_calls_refuse_one(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b", "c", "d", "e"])?;
        // Tag's ordering is "name".
        let name = |t: Option<Tag>| t.map(|t| t.name);
        assert_eq!(name(Tag::objects().offset(2).first(&mut conn)?).as_deref(), Some("c"));
        assert_eq!(name(Tag::objects().offset(1).limit(2).first(&mut conn)?).as_deref(), Some("b"));
        assert_eq!(Tag::objects().limit(0).first(&mut conn)?, None);
        let ids: Vec<i64> = t.iter().filter_map(|t| t.id).collect();
        let sliced = Tag::objects().limit(2);
        for err in [
            sliced.last(&mut conn).map(|_| ()),
            Tag::objects().offset(1).last(&mut conn).map(|_| ()),
            sliced.earliest(&mut conn, tag::name).map(|_| ()),
            sliced.latest(&mut conn, tag::name).map(|_| ()),
            sliced.in_bulk(&mut conn, &ids).map(|_| ()),
        ] {
            let err = err.unwrap_err();
            assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("limit or offset")), "{err}");
        }
        // distinct_on keeps one row per group by its ordering: these calls
        // would keep others (refused before anything is sent).
        let grouped = Tag::objects().distinct_on(tag::name);
        let refused = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>([
                grouped.last(c).map(|_| ()),
                grouped.earliest(c, tag::id).map(|_| ()),
                grouped.latest(c, tag::id).map(|_| ()),
                grouped.in_bulk(c, &ids).map(|_| ()),
            ])
        })?;
        for err in refused {
            let err = err.unwrap_err();
            assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("distinct_on")), "{err}");
        }
        Ok(())
    }

    fn first_after_unordered_is_by_key_as_last(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        // Tag's ordering is "name": the first key is "b"'s.
        create_tags(&mut conn, &["b", "a", "c"])?;
        let (first, log) = capture_queries(&mut conn, |c| Tag::objects().unordered().first(c));
        assert_eq!(first?.map(|t| t.name).as_deref(), Some("b"));
        assert!(log.queries()[0].contains("ORDER BY"), "{:?}", log.queries());
        assert_eq!(Tag::objects().unordered().last(&mut conn)?.map(|t| t.name).as_deref(), Some("c"));
        Ok(())
    }

    fn earliest_and_latest_leave_nulls_out(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        for (name, email) in [("a", None), ("b", Some("m@x")), ("c", Some("z@x")), ("d", None)] {
            Author { name: name.into(), email: email.map(Into::into), ..Default::default() }.save(&mut conn)?;
        }
        // Where NULL sorts differs per backend; it is left out everywhere.
        assert_eq!(Author::objects().earliest(&mut conn, author::email)?.name, "b");
        assert_eq!(Author::objects().latest(&mut conn, author::email)?.name, "c");
        let none = Author::objects().filter(author::email.is_null()).latest(&mut conn, author::email);
        assert!(matches!(none, Err(OrmError::NotFound { .. })), "{none:?}");
        Ok(())
    }

    fn an_update_that_sets_nothing_is_refused(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        create_tags(&mut conn, &["a"])?;
        let nothing: Option<diesel::dsl::Eq<tag::name, &str>> = None;
        let err = assert_num_queries(&mut conn, 0, |c| Tag::objects().update(c, (nothing,))).unwrap_err();
        assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("sets no column")), "{err}");
        assert_eq!(Tag::objects().update(&mut conn, (Some(tag::name.eq("b")),))?, 1);
        Ok(())
    }

    fn values_list_and_aggregate(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut q = Question { question_text: "q".into(), ..Default::default() };
        q.save(&mut conn)?;
        for (text, votes) in [("a", 3), ("b", 10), ("c", 5)] {
            q.choices().create(&mut conn, Choice { choice_text: text.into(), votes, ..Default::default() })?;
        }
        // Choice's ordering is "-votes, id".
        let rows: Vec<(String, i32)> = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects().values_list(c, (choice::choice_text, choice::votes))
        })?;
        assert_eq!(rows, [("b".to_string(), 10), ("c".to_string(), 5), ("a".to_string(), 3)]);
        // Into a struct of the caller's: the same one query.
        #[derive(Debug, PartialEq)]
        struct Tally { text: String, votes: i32 }
        impl From<(String, i32)> for Tally {
            fn from((text, votes): (String, i32)) -> Self { Tally { text, votes } }
        }
        let tallies: Vec<Tally> = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects().filter(choice::votes.lt(10)).values_as(c, (choice::choice_text, choice::votes))
        })?;
        assert_eq!(tallies, [Tally { text: "c".into(), votes: 5 }, Tally { text: "a".into(), votes: 3 }]);
        let texts: Vec<(String,)> = Choice::objects().filter(choice::votes.gt(4)).limit(1).values_list(&mut conn, (choice::choice_text,))?;
        assert_eq!(texts, [("b".to_string(),)]);
        use diesel::dsl::{count_star, max, min, sum};
        let (n, total, lowest, highest): (i64, Option<i64>, Option<i32>, Option<i32>) = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects().aggregate(c, (count_star(), sum(choice::votes), min(choice::votes), max(choice::votes)))
        })?;
        assert_eq!((n, total, lowest, highest), (3, Some(18), Some(3), Some(10)));
        let (none,): (Option<i32>,) = Choice::objects().filter(choice::votes.gt(100)).aggregate(&mut conn, (max(choice::votes),))?;
        assert_eq!(none, None);
        assert!(Choice::objects().limit(1).aggregate::<_, (i64,)>(&mut conn, (count_star(),)).is_err());
        Ok(())
    }

    fn bulk_update_sets_chosen_fields(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut t = create_tags(&mut conn, &["a", "b", "c"])?;
        for (i, tag) in t.iter_mut().enumerate() {
            tag.name = format!("renamed {i}");
        }
        let matched = assert_num_queries(&mut conn, 1, |c| Tag::objects().bulk_update(c, &t[..2], &["name"]))?;
        assert_eq!(matched, 2);
        let mut names: Vec<String> = Tag::objects().load(&mut conn)?.into_iter().map(|t| t.name).collect();
        names.sort();
        assert_eq!(names, ["c", "renamed 0", "renamed 1"]);
        // A foreign key is a field like any other.
        let mut questions: Vec<Question> = ["x", "y"]
            .iter()
            .map(|n| Question { question_text: (*n).into(), ..Default::default() })
            .collect();
        Question::objects().bulk_create(&mut conn, &mut questions)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        for q in questions.iter_mut() {
            q.author.set(ada.clone());
            q.question_text.push('!');
        }
        Question::objects().bulk_update(&mut conn, &questions, &["author", "question_text"])?;
        let stored = Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?;
        assert_eq!(stored, 2);
        // Bad field names say what is accepted; unsaved rows are refused.
        let err = Tag::objects().bulk_update(&mut conn, &t, &["nope"]).unwrap_err();
        assert!(err.to_string().contains("name fields among: name"), "{err}");
        assert!(Tag::objects().bulk_update(&mut conn, &t, &["id"]).is_err());
        let unsaved = Tag::objects().bulk_update(&mut conn, &[tag("new")], &["name"]).unwrap_err();
        assert!(matches!(unsaved, OrmError::Unsaved { .. }), "{unsaved:?}");
        // A key the write check would refuse (text over `max_length`, which
        // SQLite kept when it was written) still finds its row: keys are
        // compared, not written.
        if db.backend() == BackendKind::Sqlite {
            let long = "g".repeat(60);
            diesel::connection::SimpleConnection::batch_execute(
                &mut *conn,
                &format!("INSERT INTO \"{}\" (name, size) VALUES ('{long}', 1)", Group::meta().table),
            )?;
            let mut group = Group::get(&mut conn, long.clone())?;
            group.size = 5;
            assert_eq!(Group::objects().bulk_update(&mut conn, &[group], &["size"])?, 1);
            assert_eq!(Group::get(&mut conn, long)?.size, 5);
        }
        Ok(())
    }

    fn get_or_create_in_a_transaction_reads_the_winner_of_a_race(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        if db.backend() == BackendKind::Sqlite {
            // A write transaction holds the whole database: no one races it.
            return Ok(());
        }
        let mut other = db.get()?;
        let rust = Tag::objects().filter(tag::name.eq("rust"));
        let (row, created) = atomic(&mut conn, |conn| {
            // The transaction's first read: MySQL's snapshot is taken here.
            assert_eq!(Tag::objects().count(conn)?, 0);
            // Another connection inserts the row and commits.
            tag("rust").save(&mut other)?;
            rust.get_or_create(conn, || tag("rust"))
        })?;
        assert!(!created);
        assert_eq!(row.name, "rust");
        assert_eq!(Tag::objects().count(&mut conn)?, 1);
        Ok(())
    }

    fn racing_get_or_create_makes_one_row(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        drop(conn);
        let threads = 6;
        let barrier = Arc::new(Barrier::new(threads));
        let outcomes: Vec<orm_core::Result<(Option<i64>, bool)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let barrier = Arc::clone(&barrier);
                    scope.spawn(move || {
                        let mut conn = db.get()?;
                        barrier.wait();
                        let (row, created) = Tag::objects()
                            .filter(tag::name.eq("race"))
                            .get_or_create(&mut conn, || tag("race"))?;
                        Ok((row.id, created))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(OrmError::NotFound { model: "thread" }))).collect()
        });
        let outcomes: Vec<(Option<i64>, bool)> = outcomes.into_iter().collect::<orm_core::Result<_>>()?;
        assert_eq!(outcomes.iter().filter(|(_, created)| *created).count(), 1);
        assert!(outcomes.windows(2).all(|w| w[0].0 == w[1].0 && w[0].0.is_some()));
        assert_eq!(Tag::objects().count(&mut *db.get()?)?, 1);
        Ok(())
    }

    fn update_or_create_calls_at_once_both_count(db) {
        // SQLite's in-memory database is one pooled connection, so calls
        // cannot overlap there: a database file can.
        let file = std::env::temp_dir().join(format!("orm-update-or-create-{}.db", std::process::id()));
        let pool = match db.backend() {
            BackendKind::Sqlite => Db::connect(&file.to_string_lossy())?,
            _ => Db::connect(&db.url)?,
        };
        let result = overlapping_updates(&pool);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        result
    }
}

/// Two `update_or_create` calls on one row at once: the first pauses
/// inside its update until the second has started, and the second must
/// wait for the first's write, not save over it with what it read before.
fn overlapping_updates(db: &Db) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    create_all(&mut conn)?;
    Group {
        name: "g".into(),
        size: 0,
    }
    .save(&mut conn)?;
    let group = || Group::objects().filter(group::name.eq("g"));
    let new = || Group {
        name: "g".into(),
        size: 1,
    };
    let (inside, started) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|scope| -> orm_core::Result<()> {
        let first = scope.spawn(|| -> orm_core::Result<()> {
            let mut conn = db.get()?;
            group().update_or_create(
                &mut conn,
                |g| {
                    inside.wait();
                    started.wait();
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    g.size += 1;
                },
                new,
            )?;
            Ok(())
        });
        inside.wait();
        started.wait();
        group().update_or_create(&mut conn, |g| g.size += 1, new)?;
        first
            .join()
            .unwrap_or_else(|_| Err(OrmError::NotFound { model: "thread" }))
    })?;
    assert_eq!(Group::get(&mut conn, "g".into())?.size, 2);
    // Calls racing to create: rows of their own next to each other (no
    // gap lock makes them deadlock on MySQL), and one row for all, which
    // one creates and the others update.
    let threads = 6;
    let barrier = Barrier::new(threads);
    let outcomes: Vec<orm_core::Result<bool>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || -> orm_core::Result<bool> {
                    let mut conn = db.get()?;
                    barrier.wait();
                    let own = format!("m{i}");
                    let mine = Group::objects().filter(group::name.eq(own.clone()));
                    mine.update_or_create(
                        &mut conn,
                        |g| g.size += 1,
                        || Group { name: own, size: 1 },
                    )?;
                    let shared = Group::objects().filter(group::name.eq("shared"));
                    let (_, created) = shared.update_or_create(
                        &mut conn,
                        |g| g.size += 1,
                        || Group {
                            name: "shared".into(),
                            size: 1,
                        },
                    )?;
                    Ok(created)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(OrmError::NotFound { model: "thread" }))
            })
            .collect()
    });
    let created: Vec<bool> = outcomes.into_iter().collect::<orm_core::Result<_>>()?;
    assert_eq!(created.iter().filter(|c| **c).count(), 1);
    assert_eq!(
        Group::objects()
            .filter(group::name.like("m%"))
            .count(&mut conn)?,
        threads as i64
    );
    assert_eq!(Group::get(&mut conn, "shared".into())?.size, threads as i32);
    Ok(())
}
