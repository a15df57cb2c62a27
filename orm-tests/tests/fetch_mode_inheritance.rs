//! Every object reached from another takes on its fetch mode unless the
//! queryset sets its own (Django's `test_fetch_mode_copied_*`): through a
//! reverse manager's `all`, `get`, `filter`, `query` and `create`, through
//! a many-to-many manager's `all`, `get`, `query` and `create`, through
//! prefetching and through `select_related`. Every backend.

use chrono::NaiveDate;
use orm_core::fetch::FetchMode;
use orm_core::prelude::*;
use orm_core::AnyConnection;
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// One author, one question with two choices and two tags; the question
/// loaded with `mode`.
fn setup(conn: &mut AnyConnection, mode: FetchMode) -> orm_core::Result<Question> {
    create_all(conn)?;
    let mut author = Author {
        name: "Ada".into(),
        ..Default::default()
    };
    author.save(conn)?;
    let mut q = Question {
        question_text: "q".into(),
        pub_date: NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        ..Default::default()
    };
    q.set_author(author);
    q.save(conn)?;
    for text in ["a1", "a2"] {
        let mut c = Choice {
            choice_text: text.into(),
            ..Default::default()
        };
        c.question.set_key(q.id);
        c.save(conn)?;
    }
    let mut tags = vec![
        Tag {
            name: "t1".into(),
            ..Default::default()
        },
        Tag {
            name: "t2".into(),
            ..Default::default()
        },
    ];
    Tag::objects().bulk_create(conn, &mut tags)?;
    q.tags().set(conn, &tags)?;
    Question::objects().fetch_mode(mode).get(conn)
}

backend_tests! {
    fn reverse_manager_objects_take_the_owner_mode(db) {
        let mut conn = db.get()?;
        let q = setup(&mut conn, FetchMode::One)?;
        // `get`, `filter(..).load`, `query().first` and `all`.
        let got = q.choices().get(&mut conn, choice::choice_text.eq("a2"))?;
        assert_eq!(got.fetch_mode(), Some(FetchMode::One));
        let filtered = q.choices().filter(choice::choice_text.eq("a1"))?.load(&mut conn)?;
        assert_eq!(filtered[0].fetch_mode(), Some(FetchMode::One));
        let first = q.choices().query()?.first(&mut conn)?;
        assert_eq!(first.and_then(|c| c.fetch_mode()), Some(FetchMode::One));
        let all = q.choices().all(&mut conn)?;
        assert!(all.iter().all(|c| c.fetch_mode() == Some(FetchMode::One)));
        // A queryset's own mode wins over the owner's.
        let own = q.choices().query()?.fetch_mode(FetchMode::Raise).load(&mut conn)?;
        assert_eq!(own[0].fetch_mode(), Some(FetchMode::Raise));
        // `create` too.
        let created = q.choices().create(&mut conn, Choice { choice_text: "a3".into(), ..Default::default() })?;
        assert_eq!(created.fetch_mode(), Some(FetchMode::One));
        Ok(())
    }

    fn a_row_get_or_create_inserts_takes_the_queryset_mode(db) {
        let mut conn = db.get()?;
        let q = setup(&mut conn, FetchMode::One)?;
        let (created, was_created) = q
            .choices()
            .query()?
            .filter(choice::choice_text.eq("new"))
            .get_or_create(&mut conn, || {
                let mut c = Choice { choice_text: "new".into(), ..Default::default() };
                c.question.set_key(q.id);
                c
            })?;
        assert!(was_created);
        assert_eq!(created.fetch_mode(), Some(FetchMode::One));
        Ok(())
    }

    fn targets_a_many_to_many_prefetch_shares_are_peers(db) {
        let mut conn = db.get()?;
        let q = setup(&mut conn, FetchMode::Peers)?;
        // A second question with another author, on the same tag.
        let mut grace = Author { name: "Grace".into(), ..Default::default() };
        grace.save(&mut conn)?;
        let mut other = Question { question_text: "other".into(), ..Default::default() };
        other.set_author(grace);
        other.save(&mut conn)?;
        let tag = q.tags().all(&mut conn)?[0].as_ref().clone();
        other.tags().add(&mut conn, std::slice::from_ref(&tag))?;
        let tags = Tag::objects().filter(tag::id.eq(tag.id.unwrap_or_default())).load(&mut conn)?;
        let lists = orm_core::Prefetch::new(Tag::QUESTIONS, Question::objects().fetch_mode(FetchMode::Peers))
            .load_for(&mut conn, &tags)?;
        assert_eq!(lists[0].len(), 2);
        // Both questions' authors in one query: they are one query's peers.
        orm_core::assert_num_queries(&mut conn, 1, |c| {
            lists[0].iter().try_for_each(|q| q.author(c).map(|_| ()))
        })?;
        Ok(())
    }

    fn many_to_many_objects_take_the_owner_mode(db) {
        let mut conn = db.get()?;
        let q = setup(&mut conn, FetchMode::Raise)?;
        let got = q.tags().get(&mut conn, tag::name.eq("t1"))?;
        assert_eq!(got.fetch_mode(), Some(FetchMode::Raise));
        let queried = q.tags().query()?.load(&mut conn)?;
        assert!(queried.iter().all(|t| t.fetch_mode() == Some(FetchMode::Raise)));
        let all = q.tags().all(&mut conn)?;
        assert!(all.iter().all(|t| t.fetch_mode() == Some(FetchMode::Raise)));
        let created = q.tags().create(&mut conn, Tag { name: "t3".into(), ..Default::default() })?;
        assert_eq!(created.fetch_mode(), Some(FetchMode::Raise));
        Ok(())
    }

    fn prefetched_and_joined_objects_take_the_queryset_mode(db) {
        let mut conn = db.get()?;
        setup(&mut conn, FetchMode::One)?;
        let questions = Question::objects()
            .fetch_mode(FetchMode::Raise)
            .prefetch_related(Question::CHOICES)
            .prefetch_related(Question::TAGS)
            .load(&mut conn)?;
        let choices = questions[0].choices().all(&mut conn)?;
        assert!(choices.iter().all(|c| c.fetch_mode() == Some(FetchMode::Raise)));
        let tags = questions[0].tags().all(&mut conn)?;
        assert!(tags.iter().all(|t| t.fetch_mode() == Some(FetchMode::Raise)));
        let joined = Choice::objects()
            .fetch_mode(FetchMode::One)
            .select_related(Choice::QUESTION)
            .load(&mut conn)?;
        assert_eq!(joined[0].question(&mut conn)?.fetch_mode(), Some(FetchMode::One));
        Ok(())
    }
}
