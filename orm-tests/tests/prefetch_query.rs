//! Prefetch with a queryset (`Prefetch`, `prefetch_into`, `load_for`):
//! filtered, ordered and sliced per parent (a window function for reverse
//! foreign keys), stored where the caller asks, never in the relation's
//! cache; with query counts, on every backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use orm_core::fetch::FetchMode;
use orm_core::prelude::*;
use orm_core::{assert_num_queries, capture_queries, AnyConnection, OrmError, Prefetch};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// q1 has choices with 1, 7, 3 and 5 votes, q2 two with 2, q3 none.
fn seed(conn: &mut AnyConnection) -> orm_core::Result<Vec<Question>> {
    create_all(conn)?;
    let mut questions = Vec::new();
    for (text, votes) in [
        ("q1", &[1, 7, 3, 5][..]),
        ("q2", &[2, 2][..]),
        ("q3", &[][..]),
    ] {
        let q = create_question(conn, text)?;
        for (i, votes) in votes.iter().enumerate() {
            let choice = Choice {
                choice_text: format!("{text}-{i}"),
                votes: *votes,
                ..Default::default()
            };
            q.choices().create(conn, choice)?;
        }
        questions.push(q);
    }
    Ok(questions)
}

fn votes(lists: &[Vec<Choice>]) -> Vec<Vec<i32>> {
    lists
        .iter()
        .map(|l| l.iter().map(|c| c.votes).collect())
        .collect()
}

/// Where `prefetch_into` puts the rows in these tests: by question text.
type Store = Arc<Mutex<HashMap<String, Vec<i32>>>>;

fn into_store(store: &Store) -> impl Fn(&mut Question, Vec<Choice>) + Send + Sync + 'static {
    let store = Arc::clone(store);
    move |q, rows| {
        let votes = rows.iter().map(|c| c.votes).collect();
        store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(q.question_text.clone(), votes);
    }
}

backend_tests! {
    fn reverse_foreign_key_sliced_per_parent(db) {
        let mut conn = db.get()?;
        let questions = seed(&mut conn)?;
        // Fresh rows, so no cache was filled by the seeding.
        let questions = Question::objects()
            .filter(question::id.eq_any(questions.iter().filter_map(|q| q.id).collect::<Vec<_>>()))
            .order_by(question::id.asc())
            .load(&mut conn)?;
        let top_two = Prefetch::new(
            Question::CHOICES,
            Choice::objects().filter(choice::votes.gt(1)).limit(2),
        );
        let (lists, log) = capture_queries(&mut conn, |c| top_two.load_for(c, &questions));
        // The default ordering (-votes, id) per question; q3 has none.
        assert_eq!(votes(&lists?), [vec![7, 5], vec![2, 2], vec![]]);
        assert_eq!(log.count(), 1);
        assert!(log.queries()[0].contains("ROW_NUMBER() OVER (PARTITION BY"), "{:?}", log.queries());
        // The relation's own cache is untouched.
        assert!(!questions[0].choices().is_cached());
        // The rows take the parents' instance fetch mode.
        let raising = Question::objects().order_by(question::id.asc()).fetch_mode(FetchMode::Raise).load(&mut conn)?;
        let lists = top_two.load_for(&mut conn, &raising)?;
        assert_eq!(lists[0][0].fetch_mode(), Some(FetchMode::Raise));

        // An offset and a custom ordering.
        let next = Prefetch::new(
            Question::CHOICES,
            Choice::objects().order_by(choice::votes.asc()).offset(1).limit(2),
        );
        let lists = assert_num_queries(&mut conn, 1, |c| next.load_for(c, &questions))?;
        assert_eq!(votes(&lists), [vec![3, 5], vec![2], vec![]]);

        // Not sliced: filtered and ordered, one plain query.
        let some = Prefetch::new(
            Question::CHOICES,
            Choice::objects().filter(choice::votes.ge(3)).order_by(choice::votes.asc()),
        );
        let (lists, log) = capture_queries(&mut conn, |c| some.load_for(c, &questions));
        assert_eq!(votes(&lists?), [vec![3, 5, 7], vec![], vec![]]);
        assert_eq!(log.count(), 1);
        assert!(!log.queries()[0].contains("ROW_NUMBER"), "{:?}", log.queries());

        // Into the caller's storage, with load (2 queries), get (2) and
        // iter (one more query per chunk).
        let store = Store::default();
        let by_id = Question::objects().order_by(question::id.asc());
        let loaded = assert_num_queries(&mut conn, 2, |c| {
            by_id.clone().prefetch_into(top_two.clone(), into_store(&store)).load(c)
        })?;
        assert_eq!(loaded.len(), 3);
        let stored = std::mem::take(&mut *store.lock().unwrap_or_else(|e| e.into_inner()));
        assert_eq!(stored["q1"], [7, 5]);
        assert_eq!(stored["q2"], [2, 2]);
        assert_eq!(stored["q3"], Vec::<i32>::new());
        let one = by_id.clone().filter(question::question_text.eq("q2")).prefetch_into(next.clone(), into_store(&store));
        assert_num_queries(&mut conn, 2, |c| one.get(c))?;
        assert_eq!(store.lock().unwrap_or_else(|e| e.into_inner())["q2"], [2]);
        let streamed = assert_num_queries(&mut conn, 4, |c| {
            by_id.prefetch_into(top_two.clone(), into_store(&store)).iter(c, 2).count()
        });
        assert_eq!(streamed, 3);
        assert_eq!(store.lock().unwrap_or_else(|e| e.into_inner())["q1"], [7, 5]);
        Ok(())
    }

    fn many_to_many_filtered_ordered_and_sliced(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let tags = create_tags(&mut conn, &["a", "b", "c"])?;
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().set(&mut conn, &tags)?;
        q2.tags().set(&mut conn, &tags[1..2])?;
        let parents = [q1, q2];
        let names = |lists: Vec<Vec<Tag>>| -> Vec<Vec<String>> {
            lists.into_iter().map(|l| l.into_iter().map(|t| t.name).collect()).collect()
        };
        let not_a = Tag::objects().exclude(tag::name.eq("a")).order_by(tag::name.desc());
        let all = Prefetch::new(Question::TAGS, not_a.clone());
        let lists = assert_num_queries(&mut conn, 2, |c| all.load_for(c, &parents))?;
        assert_eq!(names(lists), [vec!["c", "b"], vec!["b"]]);
        let first = Prefetch::new(Question::TAGS, not_a.limit(1));
        let lists = assert_num_queries(&mut conn, 2, |c| first.load_for(c, &parents))?;
        assert_eq!(names(lists), [vec!["c"], vec!["b"]]);
        // Every row handed out, copies of a shared tag too, is a peer of
        // the others, whether the queryset sets a fetch mode or not.
        for query in [Tag::objects(), Tag::objects().fetch_mode(FetchMode::Peers)] {
            let lists = Prefetch::new(Question::TAGS, query).load_for(&mut conn, &parents)?;
            let rows: Vec<&Tag> = lists.iter().flatten().collect();
            assert_eq!(rows.len(), 4);
            let (_, log) = capture_queries(&mut conn, |c| rows[0].questions().all(c).map(|_| ()));
            assert!(log.count() > 0);
            assert_num_queries(&mut conn, 0, |c| rows.iter().try_for_each(|t| t.questions().all(c).map(|_| ())))?;
        }
        Ok(())
    }

    fn many_to_many_past_one_in_list_keeps_each_parents_order(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        // One tag more than an IN list holds, named so that `-name` is
        // the reverse of the key order the targets are chunked in.
        let count = conn.backend().max_in_list() + 1;
        let names: Vec<String> = (0..count).map(|i| format!("t{i:06}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let tags = create_tags(&mut conn, &names)?;
        let (first, last) = (tags[0].clone(), tags[count - 1].clone());
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().add(&mut conn, &tags)?;
        q2.tags().add(&mut conn, &[first, last])?;
        let parents = [q1, q2];
        let newest = Prefetch::new(Question::TAGS, Tag::objects().order_by(tag::name.desc()).limit(3));
        let (lists, log) = capture_queries(&mut conn, |c| newest.load_for(c, &parents));
        let names: Vec<Vec<String>> =
            lists?.into_iter().map(|l| l.into_iter().map(|t| t.name).collect()).collect();
        let name = |i: usize| format!("t{i:06}");
        assert_eq!(names, [
            vec![name(count - 1), name(count - 2), name(count - 3)],
            vec![name(count - 1), name(0)],
        ]);
        // The links, then the targets of both parents through the link
        // table (no IN list of targets to split).
        assert_eq!(log.count(), 2, "{:?}", log.queries());
        assert!(log.queries()[1].contains("IN (SELECT"), "{:?}", log.queries());
        // A manager's queryset reaches them all the same way: one query.
        let linked = assert_num_queries(&mut conn, 1, |c| parents[0].tags().query()?.count(c))?;
        assert_eq!(linked, i64::try_from(count).unwrap_or(i64::MAX));
        Ok(())
    }

    fn what_a_prefetch_with_a_queryset_refuses(db) {
        let mut conn = db.get()?;
        let questions = seed(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        // A to-one relation: select_related or prefetch_related loads it.
        let to_one = Prefetch::new(Choice::QUESTION, Question::objects());
        let err = assert_num_queries(&mut conn, 0, |c| to_one.load_for(c, &choices)).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
        // A per-parent slice with select_related.
        let joined = Prefetch::new(
            Question::CHOICES,
            Choice::objects().select_related(Choice::QUESTION).limit(1),
        );
        let err = assert_num_queries(&mut conn, 0, |c| joined.load_for(c, &questions)).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
        // distinct_on, sliced or not, reverse or many-to-many: its groups
        // would span every parent's rows.
        let grouped = [
            Prefetch::new(Question::CHOICES, Choice::objects().distinct_on(choice::votes)).load_for(&mut conn, &questions).map(|_| ()),
            Prefetch::new(Question::TAGS, Tag::objects().distinct_on(tag::name).limit(2)).load_for(&mut conn, &questions).map(|_| ()),
        ];
        for err in grouped {
            let err = err.unwrap_err();
            assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("distinct_on")), "{err}");
        }
        Ok(())
    }
}
