//! `distinct()` on every backend; `distinct_on(...)` on PostgreSQL and
//! its run-time refusal elsewhere; with their query counts.

use diesel::dsl::count_star;
use orm_core::prelude::*;
use orm_core::{assert_num_queries, capture_queries, AnyConnection, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// Two questions: "a" with choices of 1, 7 and 3 votes, "b" with 2 and 2.
fn seed(conn: &mut AnyConnection) -> orm_core::Result<(Question, Question)> {
    create_all(conn)?;
    let a = create_question(conn, "a")?;
    let b = create_question(conn, "b")?;
    for (q, text, votes) in [
        (&a, "a1", 1),
        (&a, "a7", 7),
        (&a, "a3", 3),
        (&b, "b2", 2),
        (&b, "b2'", 2),
    ] {
        q.choices().create(
            conn,
            Choice {
                choice_text: text.into(),
                votes,
                ..Default::default()
            },
        )?;
    }
    Ok((a, b))
}

backend_tests! {
    fn distinct_keeps_distinct_values(db) {
        let mut conn = db.get()?;
        let (a, b) = seed(&mut conn)?;
        let (ids, log) = capture_queries(&mut conn, |c| {
            Choice::objects()
                .distinct()
                .order_by(choice::question_id.asc())
                .values_list(c, (choice::question_id,))
        });
        assert_eq!(ids?, [(a.id.unwrap_or_default(),), (b.id.unwrap_or_default(),)]);
        assert_eq!(log.count(), 1);
        assert!(log.queries()[0].starts_with("SELECT DISTINCT "), "{:?}", log.queries());

        // Without an order_by the default ordering (on columns not
        // selected) is left out, so PostgreSQL accepts it.
        let mut votes = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects().distinct().values_list(c, (choice::votes,))
        })?;
        votes.sort();
        assert_eq!(votes, [(1,), (2,), (3,), (7,)]);
        // Nor when then_order_by adds a term after it.
        let ids = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects()
                .distinct()
                .then_order_by(choice::question_id.desc())
                .values_list(c, (choice::question_id,))
        })?;
        assert_eq!(ids, [(b.id.unwrap_or_default(),), (a.id.unwrap_or_default(),)]);
        // Without distinct, the duplicate is there.
        assert_eq!(Choice::objects().values_list::<_, (i32,)>(&mut conn, (choice::votes,))?.len(), 5);

        // Model rows are distinct already: the same five rows, 1 query.
        let rows = assert_num_queries(&mut conn, 1, |c| Choice::objects().distinct().load(c))?;
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].choice_text, "a7");
        assert_eq!(assert_num_queries(&mut conn, 1, |c| Choice::objects().distinct().count(c))?, 5);
        let first = assert_num_queries(&mut conn, 1, |c| Choice::objects().distinct().first(c))?;
        assert_eq!(first.map(|c| c.votes), Some(7));
        // Their selects leave DISTINCT out: PostgreSQL would refuse it
        // under Pet's ordering on a nullable column (`age IS NULL` is not
        // selected).
        let mut person = Person { name: "p".into(), ..Default::default() };
        person.save(&mut conn)?;
        for (name, age) in [("old", Some(9)), ("unknown", None)] {
            person.pets().create(&mut conn, Pet { name: name.into(), age, ..Default::default() })?;
        }
        let (pets, log) = capture_queries(&mut conn, |c| Pet::objects().distinct().load(c));
        assert_eq!(pets?.len(), 2);
        assert!(!log.queries()[0].contains("DISTINCT"), "{:?}", log.queries());
        assert!(Pet::objects().distinct().exists(&mut conn)?);
        let last = |q: QuerySet<Pet>, c: &mut AnyConnection| q.last(c).map(|p| p.map(|p| p.name));
        assert_eq!(last(Pet::objects().distinct(), &mut conn)?, last(Pet::objects(), &mut conn)?);
        Ok(())
    }

    fn distinct_on_is_postgres_only(db) {
        let mut conn = db.get()?;
        let (a, b) = seed(&mut conn)?;
        // The most voted choice of each question (ties broken by key).
        let best = Choice::objects()
            .distinct_on(choice::question_id)
            .order_by((choice::votes.desc(), choice::id.asc()));
        if db.backend() != BackendKind::Postgres {
            // Refused before anything is sent.
            let err = assert_num_queries(&mut conn, 0, |c| best.load(c)).unwrap_err();
            assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("DISTINCT ON")), "{err}");
            let err = assert_num_queries(&mut conn, 0, |c| best.count(c)).unwrap_err();
            assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
            let err = assert_num_queries(&mut conn, 0, |c| best.values_list::<_, (i64,)>(c, (choice::id,))).unwrap_err();
            assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
            let err = assert_num_queries(&mut conn, 0, |c| best.exists(c)).unwrap_err();
            assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
            return Ok(());
        }
        let (rows, log) = capture_queries(&mut conn, |c| best.load(c));
        let rows = rows?;
        assert_eq!(log.count(), 1);
        assert!(log.queries()[0].starts_with("SELECT DISTINCT ON (\"choice\".\"question_id\") "), "{:?}", log.queries());
        assert!(log.queries()[0].contains("ORDER BY \"choice\".\"question_id\", \"choice\".\"votes\" DESC"), "{:?}", log.queries());
        let picked: Vec<(Option<i64>, &str)> =
            rows.iter().map(|c| (c.question.key().copied(), c.choice_text.as_str())).collect();
        assert_eq!(picked, [(a.id, "a7"), (b.id, "b2")]);
        assert_eq!(assert_num_queries(&mut conn, 1, |c| best.count(c))?, 2);
        // Two distinct groups: an offset of 2 leaves none, as count says.
        assert!(assert_num_queries(&mut conn, 1, |c| best.clone().offset(1).exists(c))?);
        assert!(!assert_num_queries(&mut conn, 1, |c| best.clone().offset(2).exists(c))?);
        assert_eq!(best.clone().offset(2).load(&mut conn)?.len(), 0);
        let texts = assert_num_queries(&mut conn, 1, |c| best.values_list(c, (choice::choice_text,)))?;
        assert_eq!(texts, [("a7".to_string(),), ("b2".to_string(),)]);
        // Streamed by OFFSET: 2 rows in chunks of 1, plus the empty last chunk.
        let streamed = assert_num_queries(&mut conn, 3, |c| {
            best.iter(c, 1).map(|r| r.map(|c| c.votes)).collect::<orm_core::Result<Vec<i32>>>()
        })?;
        assert_eq!(streamed, [7, 2]);
        // Writes and aggregates of distinct groups are refused.
        let err = best.delete(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
        let err = best.aggregate(&mut conn, (count_star(),)).map(|(n,): (i64,)| n).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
        Ok(())
    }
}
