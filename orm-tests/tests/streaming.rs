//! Chunked iteration: each chunk is a peer group, so touching a relation in
//! the loop costs one query per chunk, not one per row; every backend.

use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection, BackendKind};
use orm_tests::backend_tests;
use orm_tests::polls::*;

const N: usize = 12;

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    for i in 0..N {
        let mut q = Question {
            question_text: format!("q{i:02}"),
            ..Default::default()
        };
        q.save(conn)?;
        let mut c = Choice {
            choice_text: format!("c{i:02}"),
            ..Default::default()
        };
        c.question.set_key(q.id);
        c.save(conn)?;
    }
    Ok(())
}

backend_tests! {
    fn each_chunk_is_a_peer_group(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let (texts, log) = capture_queries(&mut conn, |conn| {
            let mut texts = Vec::new();
            let rows: Vec<orm_core::Result<Choice>> = Choice::objects().order_by(choice::id.asc()).iter(conn, 5).collect();
            // Touch the relation while iterating: collected first only to
            // release the borrow of the connection held by the iterator.
            for choice in rows {
                let choice = choice?;
                texts.push(choice.question(conn)?.question_text.clone());
            }
            Ok::<_, orm_core::OrmError>(texts)
        });
        let texts = texts?;
        assert_eq!(texts.len(), N);
        assert_eq!(texts[0], "q00");
        assert_eq!(texts[N - 1], format!("q{:02}", N - 1));
        // 3 chunk queries (5 + 5 + 2 rows) and 3 question queries: one per chunk.
        assert_eq!(log.count(), 6, "{:#?}", log.queries());
        Ok(())
    }

    fn iteration_respects_filters_limits_and_offsets(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let texts: Vec<String> = Choice::objects()
            .filter(choice::choice_text.ne("c00"))
            .order_by(choice::choice_text.desc())
            .offset(1)
            .limit(7)
            .iter(&mut conn, 3)
            .map(|c| c.map(|c| c.choice_text))
            .collect::<orm_core::Result<_>>()?;
        let expected: Vec<String> = (4..=10).rev().map(|i| format!("c{i:02}")).collect();
        assert_eq!(texts, expected);
        assert_eq!(Choice::objects().iter(&mut conn, 100).count(), N);
        Ok(())
    }

    fn chunks_continue_after_the_last_row(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Ties in the default ordering ("-pub_date, id"): three dates.
        let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, d).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
        let mut questions = Question::objects().load(&mut conn)?;
        for (i, q) in questions.iter_mut().enumerate() {
            q.pub_date = day(1 + (i % 3) as u32);
            q.save(&mut conn)?;
        }
        let expected: Vec<Option<i64>> = Question::objects().load(&mut conn)?.iter().map(|q| q.id).collect();
        let (streamed, log) = capture_queries(&mut conn, |conn| {
            Question::objects().iter(conn, 5).map(|q| q.map(|q| q.id)).collect::<orm_core::Result<Vec<_>>>()
        });
        assert_eq!(streamed?, expected);
        // 5 + 5 + 2 rows: three queries; after the first, each starts after
        // the previous chunk's last row instead of skipping rows.
        assert_eq!(log.count(), 3, "{:#?}", log.queries());
        assert!(log.queries().iter().all(|q| !q.contains("OFFSET")), "{:#?}", log.queries());
        assert!(log.queries()[1].contains(" < "), "{}", log.queries()[1]);
        // An offset applies to the first chunk; a limit to the whole.
        let sliced: Vec<Option<i64>> = Question::objects()
            .offset(2)
            .limit(7)
            .iter(&mut conn, 3)
            .map(|q| q.map(|q| q.id))
            .collect::<orm_core::Result<_>>()?;
        assert_eq!(sliced, expected[2..9]);
        // Unordered: by key.
        let by_key: Vec<Option<i64>> = Question::objects().unordered().iter(&mut conn, 4).map(|q| q.map(|q| q.id)).collect::<orm_core::Result<_>>()?;
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(by_key, sorted);
        Ok(())
    }

    fn chunks_continue_after_text_a_write_would_refuse(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        // Text over `max_length` (50) that SQLite kept when it was written
        // (by raw SQL, or before the check): a chunk may end on it, and
        // the next chunk starts after it. Its value is compared, not
        // written, so it is bound unchecked.
        let long = "b".repeat(60);
        let mut names = vec!["a".to_string(), "c".into(), "d".into()];
        for name in &names {
            Group { name: name.clone(), size: 1 }.save(&mut conn)?;
        }
        if db.backend() == BackendKind::Sqlite {
            diesel::connection::SimpleConnection::batch_execute(
                &mut *conn,
                &format!("INSERT INTO \"{}\" (name, size) VALUES ('{long}', 1)", Group::meta().table),
            )?;
            names.insert(1, long);
        }
        let streamed: Vec<String> = Group::objects()
            .iter(&mut conn, 2)
            .map(|g| g.map(|g| g.name))
            .collect::<orm_core::Result<_>>()?;
        assert_eq!(streamed, names);
        Ok(())
    }
}
