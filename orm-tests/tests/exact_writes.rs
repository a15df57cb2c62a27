//! Relation writes leave the database in exactly the state the call names,
//! whatever the instance's cache holds: another instance of the same row
//! (another request, thread or process) may have written since. And what
//! `Clone` does to the caches. On every backend.

use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;
use std::borrow::Borrow;

/// Two books' readers through a link model with no unique constraint on
/// the pair: `add` must read the links before inserting.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "title")]
pub struct Book {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 50)]
    pub title: String,
    #[orm(through = "Loan", through_fields = "book, reader")]
    pub readers: ManyToMany<Reader>,
}

/// A reader of books.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "name")]
pub struct Reader {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 50)]
    pub name: String,
}

/// A book lent to a reader (no `unique_together`).
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Loan {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub book: ForeignKey<Book>,
    pub reader: ForeignKey<Reader>,
}

/// The names of the tags linked to `q` in the database (a fresh read).
fn stored_tags(conn: &mut AnyConnection, q: &Question) -> orm_core::Result<Vec<String>> {
    let fresh = Question::get(conn, q.id.unwrap_or_default())?;
    let tags = fresh.tags().all(conn)?;
    Ok(tags.iter().map(|t| t.name.clone()).collect())
}

fn names(tags: &[impl Borrow<Tag>]) -> Vec<&str> {
    tags.iter().map(|t| t.borrow().name.as_str()).collect()
}

/// The texts of the questions of `author` in the database.
fn stored_questions(conn: &mut AnyConnection, author: &Author) -> orm_core::Result<Vec<String>> {
    let mut texts: Vec<String> = Question::objects()
        .filter(question::author_id.eq(author.id))
        .load(conn)?
        .into_iter()
        .map(|q| q.question_text)
        .collect();
    texts.sort();
    Ok(texts)
}

backend_tests! {
    fn many_to_many_set_drops_a_link_the_cache_never_saw(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b", "c"])?;
        let q = create_question(&mut conn, "q")?;
        let mine = Question::get(&mut conn, q.id.unwrap_or_default())?;
        mine.tags().all(&mut conn)?;
        // Another instance of the same row links b.
        let other = Question::get(&mut conn, q.id.unwrap_or_default())?;
        other.tags().add(&mut conn, &t[1..2])?;
        // One DELETE, one INSERT: b goes although this cache never held it.
        let order = db.collation_cost();
        assert_num_queries(&mut conn, 2 + order, |c| mine.tags().set(c, &[t[0].clone(), t[2].clone()]))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| mine.tags().all(c))?), ["a", "c"]);
        assert_eq!(stored_tags(&mut conn, &q)?, ["a", "c"]);
        Ok(())
    }

    fn many_to_many_add_is_exact_and_idempotent(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b"])?;
        let q = create_question(&mut conn, "q")?;
        let mine = Question::get(&mut conn, q.id.unwrap_or_default())?;
        mine.tags().add(&mut conn, &t[..1])?;
        mine.tags().all(&mut conn)?;
        // Another instance removes a: this cache still holds it.
        let other = Question::get(&mut conn, q.id.unwrap_or_default())?;
        other.tags().remove(&mut conn, &t[..1])?;
        // add(a) links it again.
        assert_num_queries(&mut conn, 1, |c| mine.tags().add(c, &t[..1]))?;
        assert_eq!(stored_tags(&mut conn, &q)?, ["a"]);
        // Another instance links b first: add(b) is no unique violation,
        // and b is linked once.
        other.tags().add(&mut conn, &t[1..])?;
        mine.tags().add(&mut conn, &t[1..])?;
        mine.tags().add(&mut conn, &[t[1].clone(), t[1].clone()])?;
        assert_eq!(stored_tags(&mut conn, &q)?, ["a", "b"]);
        assert_eq!(names(&mine.tags().all(&mut conn)?), ["a", "b"]);
        Ok(())
    }

    fn many_to_many_without_a_unique_pair_reads_before_linking(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_tables(&mut conn, &[Book::meta(), Reader::meta(), Loan::meta()])?;
        let mut book = Book { title: "b".into(), ..Default::default() };
        book.save(&mut conn)?;
        let mut readers: Vec<Reader> = ["x", "y"]
            .iter()
            .map(|n| Reader { name: (*n).into(), ..Default::default() })
            .collect();
        Reader::objects().bulk_create(&mut conn, &mut readers)?;
        let other = Book::get(&mut conn, book.id.unwrap_or_default())?;
        other.readers().add(&mut conn, &readers[..1])?;
        book.readers().set_cached(Vec::new());
        // The stale cache says no reader: x is still linked once.
        book.readers().add(&mut conn, &readers)?;
        book.readers().set(&mut conn, &readers)?;
        assert_eq!(Loan::objects().count(&mut conn)?, 2);
        book.readers().set(&mut conn, &readers[1..])?;
        assert_eq!(Loan::objects().count(&mut conn)?, 1);
        Ok(())
    }

    fn a_target_linked_twice_is_read_once(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_tables(&mut conn, &[Book::meta(), Reader::meta(), Loan::meta()])?;
        let mut book = Book { title: "b".into(), ..Default::default() };
        book.save(&mut conn)?;
        let mut reader = Reader { name: "x".into(), ..Default::default() };
        reader.save(&mut conn)?;
        // Two loans of one pair: the through model has no unique pair.
        for _ in 0..2 {
            let mut loan = Loan::default();
            loan.book.set_key(book.id);
            loan.reader.set_key(reader.id);
            loan.save(&mut conn)?;
        }
        let queried = book.readers().query()?.load(&mut conn)?;
        assert_eq!(queried.len(), 1);
        let books = Book::objects().prefetch_related(Book::READERS).load(&mut conn)?;
        assert_eq!(books[0].readers().cached().map(|r| r.len()), Some(1));
        let one = Book::get(&mut conn, book.id.unwrap_or_default())?;
        assert_eq!(one.readers().all(&mut conn)?.len(), 1);
        Ok(())
    }

    fn reverse_remove_refuses_a_child_of_another_owner(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut bob = Author { name: "Bob".into(), ..Default::default() };
        bob.save(&mut conn)?;
        let mut both = [create_question(&mut conn, "own")?, create_question(&mut conn, "moved")?];
        ada.questions().add(&mut conn, &mut both)?;
        // Another request moves `moved` to Bob; this copy still says Ada.
        let moved = both[1].id.unwrap_or_default();
        let mut elsewhere = Question::get(&mut conn, moved)?;
        bob.questions().add(&mut conn, std::slice::from_mut(&mut elsewhere))?;
        let err = ada.questions().remove(&mut conn, &mut both).unwrap_err();
        assert!(matches!(&err, OrmError::NotRelated { keys, .. } if *keys == [moved.to_string()]), "{err}");
        // Nothing changed: the database, the rows passed.
        let authors = |conn: &mut AnyConnection| -> orm_core::Result<Vec<Option<i64>>> {
            let rows = Question::objects().order_by(question::id.asc()).load(conn)?;
            Ok(rows.iter().map(|q| q.author.key().copied()).collect())
        };
        assert_eq!(authors(&mut conn)?, [ada.id, bob.id]);
        assert_eq!(both.iter().map(|q| q.author.key().copied()).collect::<Vec<_>>(), [ada.id, ada.id]);
        // A child unlinked already (by another request) stays unlinked.
        let own = both[0].id.unwrap_or_default();
        Question::objects()
            .filter(question::id.eq(own))
            .update(&mut conn, question::author_id.eq(None::<i64>))?;
        ada.questions().remove(&mut conn, &mut both[..1])?;
        assert_eq!(both[0].author.key(), None);
        assert_eq!(authors(&mut conn)?, [None, bob.id]);
        Ok(())
    }

    fn saving_a_relation_to_an_unsaved_object_is_refused(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut q = create_question(&mut conn, "q")?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        // A nullable foreign key would be saved as NULL: the link lost.
        q.author.set(ada.clone());
        let err = assert_num_queries(&mut conn, 0, |c| q.save(c)).unwrap_err();
        assert!(
            matches!(err, OrmError::UnsavedRelated { model: "Question", field: "author", target: "Author" }),
            "{err}"
        );
        // A foreign key that may not be NULL says the same, not "unset".
        let mut choice = Choice { choice_text: "c".into(), ..Default::default() };
        choice.question.set(Question { question_text: "new".into(), ..Default::default() });
        let err = choice.save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::UnsavedRelated { field: "question", .. }), "{err}");
        let err = Choice::objects().bulk_create(&mut conn, std::slice::from_mut(&mut choice)).unwrap_err();
        assert!(matches!(err, OrmError::UnsavedRelated { .. }), "{err}");
        assert_eq!(Choice::objects().count(&mut conn)?, 0);
        // Saved first, then assigned: the link is written.
        ada.save(&mut conn)?;
        q.author.set(ada.clone());
        q.save(&mut conn)?;
        let stored = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_eq!(stored.author.key(), ada.id.as_ref());
        Ok(())
    }

    fn reverse_set_unlinks_a_child_the_cache_never_saw(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut a = create_question(&mut conn, "a")?;
        let mut b = create_question(&mut conn, "b")?;
        ada.questions().add(&mut conn, std::slice::from_mut(&mut a))?;
        let mine = Author::get(&mut conn, ada.id.unwrap_or_default())?;
        mine.questions().all(&mut conn)?;
        // Another instance adds b.
        ada.questions().add(&mut conn, std::slice::from_mut(&mut b))?;
        let mut only_a = [a.clone()];
        assert_num_queries(&mut conn, 2, |c| mine.questions().set(c, &mut only_a))?;
        assert_eq!(stored_questions(&mut conn, &ada)?, ["a"]);
        Ok(())
    }

    fn reverse_writes_cache_each_child_once(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let q = create_question(&mut conn, "q")?;
        ada.questions().all(&mut conn)?;
        ada.questions().add(&mut conn, &mut [q.clone(), q.clone()])?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| ada.questions().all(c))?.len(), 1);
        ada.questions().set(&mut conn, &mut [q.clone(), q.clone()])?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| ada.questions().all(c))?.len(), 1);
        assert_eq!(stored_questions(&mut conn, &ada)?, ["q"]);
        Ok(())
    }

    fn reverse_add_of_a_deleted_row_is_a_typed_error(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let kept = create_question(&mut conn, "kept")?;
        let gone = create_question(&mut conn, "gone")?;
        ada.questions().all(&mut conn)?;
        // Another request deletes it.
        Question::get(&mut conn, gone.id.unwrap_or_default())?.delete(&mut conn)?;
        let mut both = [kept.clone(), gone.clone()];
        let err = ada.questions().add(&mut conn, &mut both).unwrap_err();
        match &err {
            OrmError::Missing { model, keys } => {
                assert_eq!(*model, "Question");
                assert_eq!(keys, &[gone.id.unwrap_or_default().to_string()]);
            }
            other => panic!("expected Missing, got {other:?}"),
        }
        assert!(err.to_string().contains("does not exist"), "{err}");
        // Nothing changed: database, cache, instances.
        assert!(stored_questions(&mut conn, &ada)?.is_empty());
        assert!(assert_num_queries(&mut conn, 0, |c| ada.questions().all(c))?.is_empty());
        assert_eq!(both[0].author.key(), None);
        let err = ada.questions().set(&mut conn, &mut both).unwrap_err();
        assert!(matches!(err, OrmError::Missing { .. }), "{err:?}");
        assert!(stored_questions(&mut conn, &ada)?.is_empty());
        Ok(())
    }

    fn a_clone_copies_the_cache_and_writes_stay_exact(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b", "c"])?;
        let q = create_question(&mut conn, "q")?;
        q.tags().set(&mut conn, &t[..1])?;
        let copy = q.clone();
        // The clone starts with the same rows (no query)...
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| copy.tags().all(c))?), ["a"]);
        // ...but its cache is its own: a write through the original
        // changes the original's cache only.
        q.tags().add(&mut conn, &t[1..2])?;
        assert_eq!(names(&q.tags().all(&mut conn)?), ["a", "b"]);
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| copy.tags().all(c))?), ["a"]);
        // Writes through the stale clone are still exact.
        copy.tags().set(&mut conn, &t[2..])?;
        assert_eq!(stored_tags(&mut conn, &q)?, ["c"]);
        Ok(())
    }
}
