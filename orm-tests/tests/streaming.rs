//! Chunked iteration: each chunk is a peer group, so touching a relation in
//! the loop costs one query per chunk, not one per row; every backend.

use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection};
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
}
