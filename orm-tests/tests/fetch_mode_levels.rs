//! Where a fetch mode is set, the precedence between the levels, and
//! inheritance by loaded objects; every backend.
//!
//! Precedence: scope > instance (set, from the queryset, or inherited) >
//! field > model > global.

use orm_core::fetch::{set_global_fetch_mode, with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

const N: usize = 4;

/// N authors with one question each, one choice per question, one vote per choice.
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    for i in 0..N {
        let mut author = Author {
            name: format!("a{i}"),
            ..Default::default()
        };
        author.save(conn)?;
        let mut user = User {
            username: format!("u{i}"),
            ..Default::default()
        };
        user.save(conn)?;
        let mut q = Question {
            question_text: format!("q{i}"),
            ..Default::default()
        };
        q.author.set_key(author.id);
        q.save(conn)?;
        let mut c = Choice {
            choice_text: format!("c{i}"),
            ..Default::default()
        };
        c.question.set_key(q.id);
        c.save(conn)?;
        let mut v = Vote::default();
        v.choice.set_key(c.id);
        v.voter.set_key(user.id);
        v.save(conn)?;
    }
    Ok(())
}

fn touch_questions(conn: &mut AnyConnection, choices: &[Choice]) -> orm_core::Result<()> {
    choices
        .iter()
        .try_for_each(|c| c.question(conn).map(|_| ()))
}

backend_tests! {
    fn global_mode(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        set_global_fetch_mode(FetchMode::One);
        let result = assert_num_queries(&mut conn, N, |c| touch_questions(c, &choices));
        set_global_fetch_mode(FetchMode::Peers);
        result?;
        let choices = Choice::objects().load(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| touch_questions(c, &choices))?;
        Ok(())
    }

    fn model_and_field_modes(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let votes = Vote::objects().load(&mut conn)?;
        // Model mode ONE: one query per vote.
        assert_num_queries(&mut conn, N, |c| votes.iter().try_for_each(|v| v.voter(c).map(|_| ())))?;
        // Field mode RAISE beats the model's ONE.
        let err = votes[0].choice(&mut conn).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "Fetching of Vote.choice blocked.");
        Ok(())
    }

    fn queryset_and_instance_modes(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // The queryset's mode is the instances' mode: it beats field and model.
        let votes = Vote::objects().fetch_mode(FetchMode::Peers).load(&mut conn)?;
        assert_eq!(votes[0].fetch_mode(), Some(FetchMode::Peers));
        assert_num_queries(&mut conn, 1, |c| votes.iter().try_for_each(|v| v.choice(c).map(|_| ())))?;
        // An instance's own mode beats the queryset's.
        let votes = Vote::objects().fetch_mode(FetchMode::Peers).load(&mut conn)?;
        votes[0].set_fetch_mode(FetchMode::Raise);
        assert!(matches!(votes[0].voter(&mut conn), Err(OrmError::FetchBlocked { .. })));
        assert_num_queries(&mut conn, 1, |c| votes[1].voter(c).map(|_| ()))?;
        // A clone keeps the mode of its to-many fields too (Author's only
        // relation is a reverse manager); a default instance has none.
        let authors = Author::objects().fetch_mode(FetchMode::One).load(&mut conn)?;
        assert_eq!(authors[0].clone().fetch_mode(), Some(FetchMode::One));
        assert_eq!(Author::default().fetch_mode(), None);
        // A clone has its own mode.
        let copy = votes[1].clone();
        copy.set_fetch_mode(FetchMode::One);
        assert_eq!(votes[1].fetch_mode(), Some(FetchMode::Peers));
        assert_eq!(copy.fetch_mode(), Some(FetchMode::One));
        // A scope beats the instance.
        let votes = Vote::objects().load(&mut conn)?;
        votes.iter().for_each(|v| v.set_fetch_mode(FetchMode::Raise));
        with_fetch_mode(FetchMode::Peers, || {
            assert_num_queries(&mut conn, 1, |c| votes.iter().try_for_each(|v| v.choice(c).map(|_| ())))
        })?;
        Ok(())
    }

    fn loaded_objects_inherit_the_mode(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Through a relation: questions loaded by ONE choices are ONE too.
        let choices = Choice::objects().fetch_mode(FetchMode::One).load(&mut conn)?;
        touch_questions(&mut conn, &choices)?;
        assert_eq!(choices[0].question(&mut conn)?.fetch_mode(), Some(FetchMode::One));
        assert_num_queries(&mut conn, N, |c| {
            choices.iter().try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
        })?;
        // Through a manager: RAISE questions give RAISE choices.
        let questions = Question::objects().fetch_mode(FetchMode::Raise).load(&mut conn)?;
        let loaded = questions[0].choices().all(&mut conn)?;
        assert!(matches!(loaded[0].question(&mut conn), Err(OrmError::FetchBlocked { .. })));
        // Through a prefetch path.
        let questions = Question::objects()
            .fetch_mode(FetchMode::Raise)
            .prefetch_related(Question::CHOICES)
            .load(&mut conn)?;
        let loaded = questions[0].choices().all(&mut conn)?;
        assert_eq!(loaded[0].fetch_mode(), Some(FetchMode::Raise));
        // Through select_related: the joined objects take the mode, the
        // loaded value itself never consults it.
        let choices = Choice::objects()
            .fetch_mode(FetchMode::Raise)
            .select_related(Choice::QUESTION)
            .load(&mut conn)?;
        let q = assert_num_queries(&mut conn, 0, |c| choices[0].question(c).map(|q| q.fetch_mode()))?;
        assert_eq!(q, Some(FetchMode::Raise));
        Ok(())
    }

    fn the_model_mode_applies_to_reverse_sides_and_managers(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        for i in 0..N {
            let mut person = Person { name: format!("p{i}"), ..Default::default() };
            person.save(&mut conn)?;
            let mut passport = Passport { number: format!("n{i}"), ..Default::default() };
            passport.person.set_key(person.id);
            passport.save(&mut conn)?;
            let mut pet = Pet { name: format!("pet{i}"), ..Default::default() };
            pet.owner.set_key(person.id);
            pet.save(&mut conn)?;
        }
        let people = Person::objects().load(&mut conn)?;
        // Model RAISE: the reverse one-to-one refuses to load.
        let err = people[0].passport(&mut conn).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "Fetching of Person.passport blocked.");
        // A scope beats the model: PEERS loads every live peer's passport at once.
        with_fetch_mode(FetchMode::Peers, || {
            assert_num_queries(&mut conn, 1, |c| people.iter().try_for_each(|p| p.passport(c).map(|_| ())))
        })?;
        // Managers are explicit calls: RAISE does not block them, and the
        // model's RAISE (not PEERS) means no batch: one query per person.
        assert_num_queries(&mut conn, N, |c| people.iter().try_for_each(|p| p.pets().all(c).map(|_| ())))?;
        Ok(())
    }
}
