//! select_related / prefetch_related with typed paths: exact query counts,
//! zero queries afterwards, and peers for what they load; every backend.

use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection};
use orm_tests::backend_tests;
use orm_tests::polls::*;

const N: usize = 6;

/// N authors, each with one question carrying two choices and two tags.
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let mut tags: Vec<Tag> = ["a", "b", "c"]
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut tags)?;
    for i in 0..N {
        let mut author = Author {
            name: format!("author {i}"),
            ..Default::default()
        };
        author.save(conn)?;
        let mut q = Question {
            question_text: format!("q{i}"),
            ..Default::default()
        };
        q.author.set_key(author.id);
        q.save(conn)?;
        for votes in [1, 7] {
            let mut c = Choice {
                choice_text: format!("q{i} {votes}"),
                votes,
                ..Default::default()
            };
            c.question.set_key(q.id);
            c.save(conn)?;
        }
        q.tags().add(conn, &tags[i % 2..i % 2 + 2])?;
    }
    Ok(())
}

backend_tests! {
    fn select_related_loads_forward_chains(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = assert_num_queries(&mut conn, 1, |c| {
            Choice::objects().select_related(Choice::QUESTION.then(Question::AUTHOR)).load(c)
        })?;
        assert_eq!(choices.len(), 2 * N);
        let names = with_fetch_mode(FetchMode::Raise, || {
            assert_num_queries(&mut conn, 0, |c| {
                choices
                    .iter()
                    .map(|ch| Ok(ch.question(c)?.author(c)?.map(|a| a.name.clone())))
                    .collect::<orm_core::Result<Vec<_>>>()
            })
        })?;
        assert!(names.iter().all(Option::is_some));
        // Two choices of one question share the loaded question.
        let same: Vec<_> = choices.iter().filter(|c| c.question.key() == choices[0].question.key()).collect();
        assert_eq!(same.len(), 2);
        assert!(std::ptr::eq(same[0].question(&mut conn)?, same[1].question(&mut conn)?));
        Ok(())
    }

    fn prefetch_reverse_and_many_to_many(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let questions = assert_num_queries(&mut conn, 4, |c| {
            Question::objects()
                .prefetch_related(Question::CHOICES)
                .prefetch_related(Question::TAGS)
                .load(c)
        })?;
        assert_eq!(questions.len(), N);
        assert_num_queries(&mut conn, 0, |c| {
            for q in &questions {
                let choices = q.choices().all(c)?;
                // Choice ordering: "-votes, id".
                assert_eq!(choices.iter().map(|c| c.votes).collect::<Vec<_>>(), [7, 1]);
                let tags = q.tags().all(c)?;
                assert_eq!(tags.len(), 2);
                assert!(tags.windows(2).all(|w| w[0].name < w[1].name));
            }
            Ok::<_, orm_core::OrmError>(())
        })?;
        // The reverse many-to-many side.
        let tags = assert_num_queries(&mut conn, 3, |c| Tag::objects().prefetch_related(Tag::QUESTIONS).load(c))?;
        let counts = assert_num_queries(&mut conn, 0, |c| {
            tags.iter().map(|t| t.questions().count(c)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(counts.iter().sum::<i64>(), 2 * N as i64);
        Ok(())
    }

    fn nested_prefetch_and_peers_of_loaded_objects(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Authors -> their questions -> the questions' tags: one query per hop (two for the many-to-many).
        let authors = assert_num_queries(&mut conn, 4, |c| {
            Author::objects().prefetch_related(Author::QUESTIONS.then(Question::TAGS)).load(c)
        })?;
        assert_num_queries(&mut conn, 0, |c| {
            for a in &authors {
                for q in a.questions().all(c)?.iter() {
                    assert_eq!(q.tags().count(c)?, 2);
                }
            }
            Ok::<_, orm_core::OrmError>(())
        })?;
        // Objects loaded by a prefetch are peers: touching a relation on one
        // loads it for all of them in one query.
        let questions = Question::objects().prefetch_related(Question::CHOICES).load(&mut conn)?;
        let texts = assert_num_queries(&mut conn, 0, |c| {
            questions.iter().map(|q| q.choices().all(c)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_num_queries(&mut conn, 1, |c| {
            texts.iter().flat_map(|rows| rows.iter()).try_for_each(|ch| ch.question(c).map(|_| ()))
        })?;
        // Objects loaded by select_related are peers too (Django 6.1.0 forgot this).
        let choices = Choice::objects().select_related(Choice::QUESTION).load(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| {
            choices.iter().try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
        })?;
        Ok(())
    }
}
