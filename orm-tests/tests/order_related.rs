//! Ordering across a to-one relation (`order_by_related`): forward
//! foreign keys, `to_field` keys and reverse one-to-ones, one query, no
//! repeated rows, rows without a related row kept; what is refused.

use orm_core::prelude::*;
use orm_core::{assert_num_queries, capture_queries, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// A model pointing at itself: ordering across that relation is refused.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "order_person")]
pub struct Person {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[orm(null, on_delete = "set_null")]
    pub parent: ForeignKey<Person>,
}

/// Two relations to one table: ordering across both is ambiguous.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "order_team")]
pub struct Team {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub name: String,
}

/// A game between two teams.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "order_game")]
pub struct Game {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub home: ForeignKey<Team>,
    pub away: ForeignKey<Team>,
}

fn texts(questions: &[Question]) -> Vec<&str> {
    questions.iter().map(|q| q.question_text.as_str()).collect()
}

backend_tests! {
    fn questions_ordered_by_their_authors_name(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        for (author, text) in [("Zoe", "q1"), ("Ada", "q2"), ("Mia", "q3"), ("Ada", "q4")] {
            let found = Author::objects().filter(author::name.eq(author)).first(&mut conn)?;
            let author = match found {
                Some(a) => a,
                None => {
                    let mut a = Author { name: author.into(), ..Default::default() };
                    a.save(&mut conn)?;
                    a
                }
            };
            let mut q = create_question(&mut conn, text)?;
            q.set_author(author);
            q.save(&mut conn)?;
        }
        let by_author = Question::objects()
            .order_by_related(Question::AUTHOR, author::name.asc())
            .then_order_by(question::id.asc());
        let (rows, log) = capture_queries(&mut conn, |c| by_author.load(c));
        assert_eq!(texts(&rows?), ["q2", "q4", "q3", "q1"]);
        assert_eq!(log.count(), 1);
        assert!(log.queries()[0].contains("LEFT OUTER JOIN"), "{:?}", log.queries());

        let desc = Question::objects()
            .order_by_related(Question::AUTHOR, author::name.desc())
            .then_order_by(question::id.desc());
        assert_eq!(texts(&assert_num_queries(&mut conn, 1, |c| desc.load(c))?), ["q1", "q3", "q4", "q2"]);

        // With the author joined for loading too: still one query, and
        // the accessor costs nothing.
        let joined = assert_num_queries(&mut conn, 1, |c| by_author.clone().select_related(Question::AUTHOR).load(c))?;
        assert_eq!(texts(&joined), ["q2", "q4", "q3", "q1"]);
        let first_author = assert_num_queries(&mut conn, 0, |c| Ok::<_, OrmError>(joined[0].author(c)?.map(|a| a.name.clone())))?;
        assert_eq!(first_author.as_deref(), Some("Ada"));

        // values_list, first, iter (by OFFSET: chunks of 3 and 1), count
        // (which joins nothing).
        let values = assert_num_queries(&mut conn, 1, |c| by_author.values_list(c, (question::question_text,)))?;
        assert_eq!(values.into_iter().map(|(t,)| t).collect::<Vec<String>>(), ["q2", "q4", "q3", "q1"]);
        let first = assert_num_queries(&mut conn, 1, |c| by_author.first(c))?;
        assert_eq!(first.map(|q| q.question_text), Some("q2".to_string()));
        let streamed = assert_num_queries(&mut conn, 2, |c| {
            by_author.iter(c, 3).map(|q| q.map(|q| q.question_text)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(streamed, ["q2", "q4", "q3", "q1"]);
        let (count, log) = capture_queries(&mut conn, |c| by_author.count(c));
        assert_eq!(count?, 4);
        assert!(!log.queries()[0].contains("JOIN"), "{:?}", log.queries());

        // A question without an author stays (NULL sorts first or last,
        // by backend), once.
        create_question(&mut conn, "q5")?;
        let rows = assert_num_queries(&mut conn, 1, |c| by_author.load(c))?;
        let order = texts(&rows);
        assert_eq!(order.len(), 5);
        let known: Vec<&str> = order.iter().copied().filter(|t| *t != "q5").collect();
        assert_eq!(known, ["q2", "q4", "q3", "q1"]);
        assert!(order[0] == "q5" || order[4] == "q5", "{order:?}");
        Ok(())
    }

    fn reverse_one_to_one_and_to_field_relations(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        for (name, bio) in [("ann", Some("zebra")), ("bob", Some("aardvark")), ("cy", None)] {
            let mut user = User { username: name.into(), ..Default::default() };
            user.save(&mut conn)?;
            if let Some(bio) = bio {
                let mut profile = Profile { bio: bio.into(), ..Default::default() };
                profile.user.set(user.clone());
                profile.save(&mut conn)?;
            }
            let mut note = Note { body: format!("by {name}"), ..Default::default() };
            note.set_owner(user);
            note.save(&mut conn)?;
        }
        // Reverse one-to-one: users by their profile's bio; cy has none.
        let users = assert_num_queries(&mut conn, 1, |c| {
            User::objects()
                .filter(user::username.ne("cy"))
                .order_by_related(User::PROFILE, profile::bio.asc())
                .load(c)
        })?;
        assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["bob", "ann"]);
        assert_eq!(User::objects().order_by_related(User::PROFILE, profile::bio.asc()).load(&mut conn)?.len(), 3);
        // A to_field key: notes by their owner's key, descending.
        let notes = assert_num_queries(&mut conn, 1, |c| {
            Note::objects().order_by_related(Note::OWNER, user::id.desc()).load(c)
        })?;
        assert_eq!(notes.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(), ["by cy", "by bob", "by ann"]);
        Ok(())
    }

    fn ambiguous_orderings_are_refused_before_sending(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        orm_core::schema::create_table::<Person>(&mut conn)?;
        let err = assert_num_queries(&mut conn, 0, |c| {
            Person::objects().order_by_related(Person::PARENT, person::name.asc()).load(c)
        })
        .unwrap_err();
        assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("own table")), "{err}");
        // Counting leaves the ordering out, and another ordering replaces it.
        let by_parent = Person::objects().order_by_related(Person::PARENT, person::name.asc());
        assert_eq!(assert_num_queries(&mut conn, 1, |c| by_parent.count(c))?, 0);
        assert!(!assert_num_queries(&mut conn, 1, |c| by_parent.exists(c))?);
        assert!(assert_num_queries(&mut conn, 1, |c| by_parent.clone().order_by(person::name.asc()).load(c))?.is_empty());
        assert!(assert_num_queries(&mut conn, 1, |c| by_parent.clone().unordered().load(c))?.is_empty());
        // Two relations to one table.
        orm_core::schema::create_tables(&mut conn, &[Team::meta(), Game::meta()])?;
        let both = Game::objects()
            .order_by_related(Game::HOME, team::name.asc())
            .then_order_by_related(Game::AWAY, team::name.asc());
        let err = assert_num_queries(&mut conn, 0, |c| both.load(c)).unwrap_err();
        assert!(matches!(&err, OrmError::InvalidQuery { reason, .. } if reason.contains("two relations")), "{err}");
        // One of them twice is fine.
        let home = Game::objects()
            .order_by_related(Game::HOME, team::name.asc())
            .then_order_by_related(Game::HOME, team::id.desc());
        assert!(assert_num_queries(&mut conn, 1, |c| home.load(c))?.is_empty());
        // distinct() with a joined ordering: model rows need no DISTINCT,
        // so they load; distinct values would be refused by PostgreSQL.
        let by_author = Question::objects().distinct().order_by_related(Question::AUTHOR, author::name.asc());
        assert!(assert_num_queries(&mut conn, 1, |c| by_author.load(c))?.is_empty());
        let err = assert_num_queries(&mut conn, 0, |c| {
            by_author.values_list::<_, (i64,)>(c, (question::id,))
        })
        .unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err}");
        Ok(())
    }
}
