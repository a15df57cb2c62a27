//! Forward foreign keys and reverse managers with instance cache slots,
//! with exact query counts, on every backend.

use std::sync::Arc;

use chrono::NaiveDate;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)
}

fn question(conn: &mut AnyConnection, text: &str) -> orm_core::Result<Question> {
    let mut q = Question {
        question_text: text.into(),
        pub_date: NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        ..Default::default()
    };
    q.save(conn)?;
    Ok(q)
}

fn choice(
    conn: &mut AnyConnection,
    q: &Question,
    text: &str,
    votes: i32,
) -> orm_core::Result<Choice> {
    let mut c = Choice {
        choice_text: text.into(),
        votes,
        ..Default::default()
    };
    c.question.set_key(q.id);
    c.save(conn)?;
    Ok(c)
}

backend_tests! {
    fn forward_access_is_cached(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = question(&mut conn, "Why?")?;
        let c = choice(&mut conn, &q, "Because", 1)?;
        let loaded = Choice::get(&mut conn, c.id.unwrap_or_default())?;
        // Reading the key never queries.
        assert_num_queries(&mut conn, 0, |_| assert_eq!(loaded.question.key(), q.id.as_ref()));
        let first = assert_num_queries(&mut conn, 1, |c| loaded.question(c).map(|q| q as *const Question))?;
        let second = assert_num_queries(&mut conn, 0, |c| loaded.question(c).map(|q| q as *const Question))?;
        assert_eq!(first, second, "the cached object is returned by reference");
        assert_eq!(loaded.question(&mut conn)?.question_text, "Why?");
        Ok(())
    }

    fn assigning_updates_the_slot(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q1 = question(&mut conn, "one")?;
        let q2 = question(&mut conn, "two")?;
        let mut c = choice(&mut conn, &q1, "x", 0)?;
        // An assigned object is cached: no query.
        c.question.set(q2.clone());
        assert_num_queries(&mut conn, 0, |conn| assert_eq!(c.question(conn).map(|q| q.question_text.clone()).ok().as_deref(), Some("two")));
        // An assigned key drops the cache: one query, for the new target.
        c.question.set_key(q1.id);
        assert!(!c.question.is_loaded());
        let text = assert_num_queries(&mut conn, 1, |conn| c.question(conn).map(|q| q.question_text.clone()))?;
        assert_eq!(text, "one");
        c.save(&mut conn)?;
        assert_eq!(Choice::get(&mut conn, c.id.unwrap_or_default())?.question.key(), q1.id.as_ref());
        Ok(())
    }

    fn null_and_dangling_keys(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = question(&mut conn, "anonymous")?;
        // A null foreign key is None without a query.
        assert!(assert_num_queries(&mut conn, 0, |c| q.author(c))?.is_none());
        // A key pointing at no row: the same typed error on every access, one query in all.
        let mut c = Choice::default();
        c.question.set_key(Some(9_999));
        let first = assert_num_queries(&mut conn, 1, |conn| c.question(conn).map(|_| ()).unwrap_err());
        let second = assert_num_queries(&mut conn, 0, |conn| c.question(conn).map(|_| ()).unwrap_err());
        assert!(matches!(first, OrmError::RelatedMissing { model: "Choice", field: "question", target: "Question", .. }), "{first}");
        assert_eq!(first.to_string(), second.to_string());
        // An unset non-null relation cannot be saved.
        let err = Choice::default().save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::RelationUnset { model: "Choice", field: "question" }), "{err}");
        Ok(())
    }

    fn reverse_manager_is_cached_in_the_instance(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = question(&mut conn, "q")?;
        choice(&mut conn, &q, "low", 1)?;
        choice(&mut conn, &q, "high", 5)?;
        let q = Question::get(&mut conn, q.id.unwrap_or_default())?;
        // Building the manager twice gives the same slot.
        assert_eq!(q.choices().slot_ptr(), q.choices().slot_ptr());
        let count = assert_num_queries(&mut conn, 1, |c| q.choices().count(c))?;
        assert_eq!(count, 2);
        let all = assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?;
        // Default ordering of Choice: "-votes, id".
        assert_eq!(all.iter().map(|c| c.choice_text.as_str()).collect::<Vec<_>>(), ["high", "low"]);
        let again = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?;
        assert!(Arc::ptr_eq(all.as_arc(), again.as_arc()), "the cached rows are pointer-identical");
        assert_eq!(assert_num_queries(&mut conn, 0, |c| q.choices().count(c))?, 2);
        assert!(assert_num_queries(&mut conn, 0, |c| q.choices().exists(c))?);
        let filtered = q.choices().query()?.filter(choice::votes.gt(2)).load(&mut conn)?;
        assert_eq!(filtered.len(), 1);
        Ok(())
    }

    fn cached_reads_borrow_the_published_rows_and_see_every_write(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = question(&mut conn, "q")?;
        let low = choice(&mut conn, &q, "low", 1)?;
        let mut q = Question::get(&mut conn, q.id.unwrap_or_default())?;
        let texts = |rows: &[Choice]| rows.iter().map(|c| c.choice_text.clone()).collect::<Vec<_>>();
        {
            let first = assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?;
            // A cached read borrows the same rows (published in the instance).
            let again = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?;
            assert!(std::ptr::eq(&first[0], &again[0]));
            // A write through the manager is seen by the next read, with no query;
            // rows read before it stay a snapshot.
            q.choices().create(&mut conn, Choice { choice_text: "high".into(), votes: 5, ..Default::default() })?;
            let after = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?;
            assert_eq!(texts(&after), ["high", "low"]);
            assert_eq!(texts(&first), ["low"]);
            assert_eq!(assert_num_queries(&mut conn, 0, |c| q.choices().count(c))?, 2);
            // Cache control is seen too.
            q.choices().set_cached(vec![low.clone()]);
            assert_eq!(texts(&assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?), ["low"]);
            q.choices().invalidate();
            assert_eq!(texts(&assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?), ["high", "low"]);
            assert_eq!(texts(&assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?), ["high", "low"]);
        }
        // A new key (copy by clearing the key, then save): the published rows
        // are bound to the old one.
        q.id = None;
        q.save(&mut conn)?;
        assert!(assert_num_queries(&mut conn, 1, |c| q.choices().all(c))?.is_empty());
        // Refreshing the instance forgets what was published.
        q.refresh_from_db(&mut conn)?;
        assert!(!q.choices().is_cached());
        Ok(())
    }

    fn reverse_writes_keep_the_cache(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = question(&mut conn, "q")?;
        q.choices().all(&mut conn)?;
        let created = assert_num_queries(&mut conn, db.insert_cost(), |c| {
            q.choices().create(c, Choice { choice_text: "mid".into(), votes: 3, ..Default::default() })
        })?;
        assert_eq!(created.question.key(), q.id.as_ref());
        q.choices().create(&mut conn, Choice { choice_text: "top".into(), votes: 9, ..Default::default() })?;
        let texts = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?
            .iter().map(|c| c.choice_text.clone()).collect::<Vec<_>>();
        assert_eq!(texts, ["top", "mid"]);
        // create() with a row the cache holds already replaces it.
        let mut again = created.clone();
        again.votes = 10;
        q.choices().create(&mut conn, again)?;
        let texts = assert_num_queries(&mut conn, 0, |c| q.choices().all(c))?
            .iter().map(|c| c.choice_text.clone()).collect::<Vec<_>>();
        assert_eq!(texts, ["mid", "top"]);

        // Nullable foreign key: add / remove / clear on Author.questions.
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut q2 = question(&mut conn, "q2")?;
        assert!(ada.questions().all(&mut conn)?.is_empty());
        let mut batch = [q.clone(), q2.clone()];
        assert_num_queries(&mut conn, 1, |c| ada.questions().add(c, &mut batch))?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| ada.questions().count(c))?, 2);
        assert_eq!(Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?, 2);
        assert_num_queries(&mut conn, 1, |c| ada.questions().remove(c, std::slice::from_mut(&mut q2)))?;
        assert_eq!(q2.author.key(), None);
        assert_eq!(assert_num_queries(&mut conn, 0, |c| ada.questions().count(c))?, 1);
        assert_num_queries(&mut conn, 1, |c| ada.questions().clear(c))?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| ada.questions().count(c))?, 0);
        assert_eq!(Question::objects().filter(question::author_id.is_not_null()).count(&mut conn)?, 0);
        // The non-nullable Choice.question cannot be cleared.
        assert!(matches!(q.choices().clear(&mut conn), Err(OrmError::InvalidQuery { .. })));
        Ok(())
    }

    fn copy_by_clearing_the_key_is_never_stale(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let original = question(&mut conn, "original")?;
        choice(&mut conn, &original, "a", 1)?;
        assert_eq!(original.choices().all(&mut conn)?.len(), 1);
        // Copy: clear the key and save; the copy's manager is bound to its new key.
        let mut copy = original.clone();
        copy.id = None;
        assert!(matches!(copy.choices().all(&mut conn), Err(OrmError::Unsaved { .. })));
        copy.save(&mut conn)?;
        let copied = assert_num_queries(&mut conn, 1, |c| copy.choices().all(c))?;
        assert!(copied.is_empty(), "the copy does not see the original's rows");
        // Move the original's choices to the copy, using a query built on the original.
        let originals = original.choices().query()?.load(&mut conn)?;
        let mut moved = originals.clone();
        copy.choices().add(&mut conn, &mut moved)?;
        assert_eq!(copy.choices().all(&mut conn)?.len(), 1);
        assert_eq!(Question::get(&mut conn, original.id.unwrap_or_default())?.choices().count(&mut conn)?, 0);
        Ok(())
    }

    fn to_field_manager_follows_the_key_value(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut alice = User { username: "alice".into(), ..Default::default() };
        alice.save(&mut conn)?;
        let mut bob = User { username: "bob".into(), ..Default::default() };
        bob.save(&mut conn)?;
        for (owner, body) in [("alice", "a1"), ("bob", "b1"), ("bob", "b2")] {
            let mut note = Note { body: body.into(), ..Default::default() };
            note.owner.set_key(Some(owner.into()));
            note.save(&mut conn)?;
        }
        assert_eq!(alice.notes().all(&mut conn)?.len(), 1);
        // The manager is bound to the username it was loaded for: another value rebuilds it.
        alice.username = "bob".into();
        let notes = assert_num_queries(&mut conn, 1, |c| alice.notes().all(c))?;
        assert_eq!(notes.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(), ["b1", "b2"]);
        // refresh_from_db reloads the real value and drops the caches.
        alice.refresh_from_db(&mut conn)?;
        assert_eq!(alice.username, "alice");
        let notes = assert_num_queries(&mut conn, 1, |c| alice.notes().all(c))?;
        assert_eq!(notes.len(), 1);
        // Forward access through a to_field key.
        let note = Note::objects().filter(note::body.eq("a1")).get(&mut conn)?;
        assert_eq!(assert_num_queries(&mut conn, 1, |c| note.owner(c).map(|u| u.id))?, alice.id);
        // The generated setter stores the to_field value (the username), not
        // the key, and caches the user: saving writes "bob".
        let mut note = Note { body: "b3".into(), ..Default::default() };
        note.set_owner(bob.clone());
        assert_eq!(note.owner.key().map(String::as_str), Some("bob"));
        assert_eq!(assert_num_queries(&mut conn, 0, |c| note.owner(c).map(|u| u.id))?, bob.id);
        note.save(&mut conn)?;
        assert_eq!(bob.notes().count(&mut conn)?, 3);
        Ok(())
    }

    fn on_delete_actions(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut q = question(&mut conn, "q")?;
        q.author.set_key(ada.id);
        q.save(&mut conn)?;
        choice(&mut conn, &q, "c", 0)?;
        // SET NULL: deleting the author keeps the question.
        ada.delete(&mut conn)?;
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.author.key(), None);
        // CASCADE: deleting the question deletes its choices.
        q.delete(&mut conn)?;
        assert_eq!(Choice::objects().count(&mut conn)?, 0);
        // RESTRICT: a user with notes cannot be deleted.
        let mut u = User { username: "u".into(), ..Default::default() };
        u.save(&mut conn)?;
        let mut note = Note::default();
        note.owner.set_key(Some("u".into()));
        note.save(&mut conn)?;
        assert!(matches!(u.delete(&mut conn), Err(OrmError::Database(_))));
        Ok(())
    }

    fn reverse_manager_filter_get_and_set(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let q = question(&mut conn, "q")?;
        choice(&mut conn, &q, "low", 1)?;
        choice(&mut conn, &q, "high", 5)?;
        let high = assert_num_queries(&mut conn, 1, |c| q.choices().get(c, choice::votes.gt(2)))?;
        assert_eq!(high.choice_text, "high");
        assert_eq!(q.choices().filter(choice::votes.lt(9))?.count(&mut conn)?, 2);
        assert!(matches!(q.choices().get(&mut conn, choice::votes.gt(0)), Err(OrmError::MultipleFound { .. })));
        // set on a nullable foreign key: two UPDATEs, then the cache is exact.
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut a = question(&mut conn, "a")?;
        let mut b = question(&mut conn, "b")?;
        ada.questions().add(&mut conn, std::slice::from_mut(&mut a))?;
        let mut wanted = [b.clone(), q.clone()];
        // Two UPDATEs (the others unlinked, the wanted linked), nothing read.
        assert_num_queries(&mut conn, 2, |c| ada.questions().set(c, &mut wanted))?;
        let cached = assert_num_queries(&mut conn, 0, |c| ada.questions().all(c))?;
        assert_eq!(cached.len(), 2);
        let stored = Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?;
        assert_eq!(stored, 2);
        assert_eq!(Question::get(&mut conn, a.id.unwrap_or_default())?.author.key(), None);
        b.refresh_from_db(&mut conn)?;
        assert_eq!(b.author.key(), ada.id.as_ref());
        // Whatever the cache holds: one UPDATE per side.
        let mut only_a = [a.clone()];
        assert_num_queries(&mut conn, 2, |c| ada.questions().set(c, &mut only_a))?;
        assert_num_queries(&mut conn, 2, |c| ada.questions().set(c, &mut only_a))?;
        assert_eq!(Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?, 1);
        Ok(())
    }

    fn cached_order_matches_the_database_with_nulls(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut person = Person { name: "p".into(), ..Default::default() };
        person.save(&mut conn)?;
        let mut pets: Vec<Pet> = [("a", Some(3)), ("b", None), ("c", Some(7)), ("d", None)]
            .iter()
            .map(|(name, age)| Pet { name: (*name).into(), age: *age, ..Default::default() })
            .collect();
        Pet::objects().bulk_create(&mut conn, &mut pets)?;
        let names = |rows: &[Pet]| rows.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        // The database order ("-age, name", NULLs smallest on every backend)...
        let from_db = names(&Pet::objects().load(&mut conn)?);
        assert_eq!(from_db, ["c", "a", "b", "d"]);
        // ...is the order of a cache sorted in Rust by set().
        person.pets().set(&mut conn, &mut pets)?;
        assert_eq!(names(&person.pets().all(&mut conn)?), from_db);
        let fresh = Person::get(&mut conn, person.id.unwrap_or_default())?;
        assert_eq!(names(&with_fetch_mode(FetchMode::One, || fresh.pets().all(&mut conn))?), from_db);
        Ok(())
    }
}

/// A foreign key to an integer key takes three words: the key, the peer
/// batch's pointer, and the entry's index with the fetch mode and whether
/// there is a key (an `Option` of the key would take a fourth).
#[cfg(target_pointer_width = "64")]
#[test]
fn a_foreign_key_to_an_integer_takes_three_words() {
    assert_eq!(std::mem::size_of::<ForeignKey<Question>>(), 24);
    assert_eq!(std::mem::size_of::<ForeignKey<Question, i32>>(), 24);
    assert_eq!(std::mem::size_of::<Choice>(), 72);
}
