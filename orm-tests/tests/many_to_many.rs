//! Many-to-many managers cached in the instance, coherent writes, and the
//! two Django regression scenarios (#33984), on every backend.

use std::borrow::Borrow;
use std::sync::Arc;

use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

fn names(rows: &[impl Borrow<Tag>]) -> Vec<&str> {
    rows.iter().map(|t| t.borrow().name.as_str()).collect()
}

/// Two many-to-many fields whose names once made the same hidden constant
/// (`tags`' reverse side and `tags_reverse`).
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "mm_shelf")]
pub struct Shelf {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub tags: ManyToMany<Tag>,
    pub tags_reverse: ManyToMany<Tag>,
}

backend_tests! {
    fn fields_named_like_another_fields_reverse_side_stay_apart(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        orm_core::schema::create_all(&mut conn, &orm_core::models![Shelf])?;
        let t = create_tags(&mut conn, &["a", "b"])?;
        let mut shelf = Shelf::default();
        shelf.save(&mut conn)?;
        shelf.tags().add(&mut conn, &t[..1])?;
        shelf.tags_reverse().add(&mut conn, &t[1..])?;
        let shelf = Shelf::get(&mut conn, shelf.id.unwrap_or_default())?;
        assert_eq!(names(&shelf.tags().all(&mut conn)?), ["a"]);
        assert_eq!(names(&shelf.tags_reverse().all(&mut conn)?), ["b"]);
        Ok(())
    }


    fn rows_a_write_cached_load_their_relations_together(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let tags = create_tags(&mut conn, &["a", "b", "c"])?;
        let q = create_question(&mut conn, "q")?;
        // `set` caches copies of the rows it was given (a form's validated
        // choices): reading their own relations then costs what it costs
        // after a query, the links and the targets, not a query per row.
        q.tags().set(&mut conn, &tags)?;
        let cached = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?;
        assert_num_queries(&mut conn, 2, |c| cached.iter().try_for_each(|t| t.questions().all(c).map(|_| ())))?;
        // `add` to a filled cache the same way.
        let more = create_tags(&mut conn, &["d", "e"])?;
        let other = create_question(&mut conn, "other")?;
        assert!(other.tags().all(&mut conn)?.is_empty());
        other.tags().add(&mut conn, &more)?;
        let cached = assert_num_queries(&mut conn, 0, |c| other.tags().all(c))?;
        assert_num_queries(&mut conn, 2, |c| cached.iter().try_for_each(|t| t.questions().all(c).map(|_| ())))?;
        Ok(())
    }

    fn all_is_cached_in_the_instance(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["rust", "db", "orm"])?;
        let q = create_question(&mut conn, "q")?;
        q.tags().add(&mut conn, &t)?;
        let q = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_eq!(q.tags().slot_ptr(), q.tags().slot_ptr());
        assert_eq!(assert_num_queries(&mut conn, 1, |c| q.tags().count(c))?, 3);
        let first = assert_num_queries(&mut conn, 2, |c| q.tags().all(c))?;
        // Tag ordering: "name".
        assert_eq!(names(&first), ["db", "orm", "rust"]);
        let again = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?;
        assert!(Arc::ptr_eq(first.as_arc(), again.as_arc()));
        assert_eq!(assert_num_queries(&mut conn, 0, |c| q.tags().count(c))?, 3);
        // The reverse side.
        let rust = Tag::objects().filter(tag::name.eq("rust")).get(&mut conn)?;
        let questions = assert_num_queries(&mut conn, 2, |c| rust.questions().all(c))?;
        assert_eq!(questions.len(), 1);
        assert_eq!(questions[0].question_text, "q");
        Ok(())
    }

    fn owners_loaded_together_share_their_targets(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b", "c"])?;
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().add(&mut conn, &t[..2])?;
        q2.tags().add(&mut conn, &t[1..])?;
        // One prefetch: the links, then each tag once, shared by the
        // questions linked to it.
        let questions = assert_num_queries(&mut conn, 3, |c| {
            Question::objects().prefetch_related(Question::TAGS).load(c)
        })?;
        let by_text = |text: &str| questions.iter().find(|q| q.question_text == text);
        let (Some(first), Some(second)) = (by_text("q1"), by_text("q2")) else {
            panic!("both questions are loaded");
        };
        let (a, b) = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>((first.tags().all(c)?, second.tags().all(c)?))
        })?;
        assert_eq!(names(&a), ["a", "b"]);
        assert_eq!(names(&b), ["b", "c"]);
        assert!(Arc::ptr_eq(&a[1], &b[0]), "the tag both link to is one row");
        assert!(!Arc::ptr_eq(&a[0], &b[1]));
        // The rows read go back into a write as they are (shared).
        let mut copy = create_question(&mut conn, "copy")?;
        copy.tags().set(&mut conn, &a)?;
        let copied = assert_num_queries(&mut conn, 0, |c| copy.tags().all(c))?;
        assert_eq!(names(&copied), ["a", "b"]);
        assert!(Arc::ptr_eq(&copied[0], &a[0]));
        copy.tags().remove(&mut conn, &b[..1])?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| copy.tags().all(c))?), ["a"]);
        copy.refresh_from_db(&mut conn)?;
        assert_eq!(names(&copy.tags().all(&mut conn)?), ["a"]);
        Ok(())
    }

    fn a_prefetch_through_a_many_to_many_loads_each_shared_target_once_and_keeps_it(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b"])?;
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().add(&mut conn, &t)?;
        q2.tags().add(&mut conn, &t[1..])?;
        // The questions, their links, the tags, the tags' links, their
        // questions: one query each. The second path through the same
        // many-to-many keeps what the first filled (no query; the tags
        // keep their questions).
        let questions = assert_num_queries(&mut conn, 5, |c| {
            Question::objects()
                .prefetch_related(Question::TAGS.then(Tag::QUESTIONS))
                .prefetch_related(Question::TAGS)
                .load(c)
        })?;
        let texts = |tag: &Tag, c: &mut orm_core::AnyConnection| -> orm_core::Result<Vec<String>> {
            let rows = tag.questions().all(c)?;
            let mut texts: Vec<String> = rows.iter().map(|q| q.question_text.clone()).collect();
            texts.sort();
            Ok(texts)
        };
        for q in &questions {
            let tags = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?;
            for tag in tags.iter() {
                let seen = assert_num_queries(&mut conn, 0, |c| texts(tag, c))?;
                let expected: &[&str] = if tag.name == "a" { &["q1"] } else { &["q1", "q2"] };
                assert_eq!(seen, expected, "tag {}", tag.name);
            }
        }
        Ok(())
    }

    fn writes_keep_the_cache_filled_and_ordered(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        // PostgreSQL and MySQL: the database's text order of 2+ cached tags.
        let order = db.collation_cost();
        let t = create_tags(&mut conn, &["b", "d", "a", "c"])?;
        let q = create_question(&mut conn, "q")?;
        // add is one INSERT skipping existing links, whatever the cache holds.
        assert_num_queries(&mut conn, 1, |c| q.tags().add(c, &t[..1]))?;
        assert!(!q.tags().is_cached(), "add leaves an empty cache empty");
        q.tags().all(&mut conn)?;
        assert_num_queries(&mut conn, 1 + order, |c| q.tags().add(c, &t[1..3]))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["a", "b", "d"]);
        // Adding what is linked already: the INSERT skips it (the cache may
        // be stale), the cache is unchanged.
        assert_num_queries(&mut conn, 1, |c| q.tags().add(c, &t[..1]))?;
        assert_num_queries(&mut conn, 1, |c| q.tags().remove(c, &t[1..2]))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["a", "b"]);
        // set: one DELETE of the other links and one INSERT, nothing read.
        assert_num_queries(&mut conn, 2 + order, |c| q.tags().set(c, &[t[3].clone(), t[0].clone()]))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["b", "c"]);
        // The database agrees with the cache.
        let fresh = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_eq!(names(&fresh.tags().all(&mut conn)?), ["b", "c"]);
        // The same on an empty cache; then the cache is filled.
        assert_num_queries(&mut conn, 2, |c| fresh.tags().set(c, &[t[2].clone()]))?;
        let after = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_num_queries(&mut conn, 2 + order, |c| after.tags().set(c, &t))?;
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| after.tags().all(c))?), ["a", "b", "c", "d"]);
        assert_num_queries(&mut conn, 1, |c| after.tags().clear(c))?;
        assert!(assert_num_queries(&mut conn, 0, |c| after.tags().all(c))?.is_empty());
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.tags().count(&mut conn)?, 0);
        Ok(())
    }

    fn a_failed_set_leaves_database_and_cache_alone(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b"])?;
        let q = create_question(&mut conn, "q")?;
        q.tags().set(&mut conn, &t[..1])?;
        // A tag that is not saved in the database: the INSERT violates the foreign key.
        let ghost = Tag { id: Some(9_999), name: "ghost".into(), ..Default::default() };
        let err = q.tags().set(&mut conn, &[t[1].clone(), ghost]).unwrap_err();
        assert!(matches!(err, OrmError::Database(_)), "{err}");
        assert_eq!(names(&assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?), ["a"]);
        let fresh = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_eq!(names(&fresh.tags().all(&mut conn)?), ["a"]);
        Ok(())
    }

    fn copy_by_clearing_the_key_then_set_from_the_original(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["x", "y"])?;
        let original = create_question(&mut conn, "original")?;
        original.tags().set(&mut conn, &t)?;
        // A query built on the original, before the copy.
        let from_original = original.tags().all(&mut conn)?;
        let mut copy = original.clone();
        copy.id = None;
        copy.save(&mut conn)?;
        // The copy's manager is bound to its new key: the original's cached
        // rows are not reused (one query finds no links, so no tag query).
        assert!(assert_num_queries(&mut conn, 1, |c| copy.tags().all(c))?.is_empty());
        copy.tags().set(&mut conn, &from_original)?;
        assert_eq!(names(&copy.tags().all(&mut conn)?), ["x", "y"]);
        let original = Question::get(&mut conn, original.id.unwrap_or_default())?;
        assert_eq!(names(&original.tags().all(&mut conn)?), ["x", "y"]);
        Ok(())
    }

    fn to_field_through_table_follows_a_rename(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut admins = Group { name: "admins".into(), size: 1 };
        admins.insert(&mut conn)?;
        let mut staff = Group { name: "staff".into(), size: 1 };
        staff.insert(&mut conn)?;
        let mut user = User { username: "alice".into(), ..Default::default() };
        user.save(&mut conn)?;
        user.groups().add(&mut conn, std::slice::from_ref(&admins))?;
        assert_eq!(user.groups().all(&mut conn)?.len(), 1);
        // Another instance renames the user (after dropping the old links)
        // and links the new name to another group.
        let mut other = User::get(&mut conn, user.id.unwrap_or_default())?;
        other.groups().clear(&mut conn)?;
        other.username = "alicia".into();
        other.save(&mut conn)?;
        other.groups().add(&mut conn, std::slice::from_ref(&staff))?;
        user.refresh_from_db(&mut conn)?;
        let groups = user.groups().all(&mut conn)?;
        assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["staff"]);
        Ok(())
    }

    fn writes_drop_what_the_other_side_caches_of_the_rows_they_link(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b"])?;
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().set(&mut conn, &t)?;
        let questions_of = |conn: &mut AnyConnection, tag: &Tag| -> orm_core::Result<Vec<String>> {
            Ok(tag.questions().all(conn)?.iter().map(|q| q.question_text.clone()).collect())
        };
        // Each write leaves the linked tags' own caches exact: read again.
        let tags = q1.tags().all(&mut conn)?;
        assert_eq!(questions_of(&mut conn, &tags[0])?, ["q1"]);
        q2.tags().add(&mut conn, &tags[..1])?;
        assert!(!tags[0].questions().is_cached());
        assert_eq!(questions_of(&mut conn, &tags[0])?, ["q1", "q2"]);
        q2.tags().remove(&mut conn, &tags[..1])?;
        assert_eq!(questions_of(&mut conn, &tags[0])?, ["q1"]);
        // Removing a row passed as another instance of it (read afresh)
        // drops the other side of the row the owner's cache shared too.
        let fresh = Tag::get(&mut conn, tags[0].id.unwrap_or_default())?;
        q1.tags().remove(&mut conn, &[fresh])?;
        assert!(!tags[0].questions().is_cached());
        assert!(questions_of(&mut conn, &tags[0])?.is_empty());
        q1.tags().add(&mut conn, &tags[..1])?;
        // clear() and set() reach the rows the owner's cache held.
        assert_eq!(questions_of(&mut conn, &tags[1])?, ["q1"]);
        q1.tags().clear(&mut conn)?;
        assert!(questions_of(&mut conn, &tags[1])?.is_empty());
        q1.tags().set(&mut conn, &tags)?;
        assert_eq!(questions_of(&mut conn, &tags[1])?, ["q1"]);
        q1.tags().set(&mut conn, &tags[..1])?;
        assert!(questions_of(&mut conn, &tags[1])?.is_empty());
        // From the other side: a tag's write drops the question's tags.
        let qs = tags[1].questions().all(&mut conn)?;
        assert!(qs.is_empty());
        let own = q1.tags().all(&mut conn)?.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(own, ["a"]);
        tags[1].questions().add(&mut conn, std::slice::from_ref(&q1))?;
        assert!(!q1.tags().is_cached());
        let own = q1.tags().all(&mut conn)?.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(own, ["a", "b"]);
        Ok(())
    }

    fn query_get_and_create(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let t = create_tags(&mut conn, &["a", "b", "c"])?;
        let q = create_question(&mut conn, "q")?;
        q.tags().set(&mut conn, &t[..2])?;
        // One query, through the link table, whatever the cache holds.
        let b = assert_num_queries(&mut conn, 1, |c| q.tags().get(c, tag::name.eq("b")))?;
        assert_eq!(b.name, "b");
        assert!(q.tags().get(&mut conn, tag::name.eq("c")).unwrap_err().is_not_found());
        let fresh = Question::get(&mut conn, q.id.unwrap_or_default())?;
        let a = assert_num_queries(&mut conn, 1, |c| fresh.tags().get(c, tag::name.eq("a")))?;
        assert_eq!(a.name, "a");
        let linked = assert_num_queries(&mut conn, 1, |c| fresh.tags().query()?.count(c))?;
        assert_eq!(linked, 2);
        assert!(!fresh.tags().is_cached());
        let insert_extra = db.insert_cost() - 1;
        // + the database's text order of the cached tags (PostgreSQL, MySQL).
        let created = assert_num_queries(&mut conn, 2 + insert_extra + db.collation_cost(), |c| {
            q.tags().create(c, Tag { name: "new".into(), ..Default::default() })
        })?;
        assert!(created.id.is_some());
        let names = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?
            .iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names, ["a", "b", "new"]);
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.tags().count(&mut conn)?, 3);
        // Creating a row the cache holds already (saved again, its link
        // exists) replaces it in the cache: once, with the values written.
        let mut again = t[0].clone();
        again.name = "a2".into();
        q.tags().create(&mut conn, again)?;
        let names = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?
            .iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names, ["a2", "b", "new"]);
        assert_eq!(q.tags().query()?.count(&mut conn)?, 3);
        Ok(())
    }
}

backend_tests! {
    // Writes with more rows than one statement may bind.
    fn large_writes_chunk_below_the_bind_limit(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let n = conn.backend().max_in_list() + 10;
        let mut rows: Vec<Tag> = (0..n).map(|i| Tag { name: format!("t{i}"), ..Default::default() }).collect();
        Tag::objects().bulk_create(&mut conn, &mut rows)?;
        let q = create_question(&mut conn, "big")?;
        // Links, removal, set and clear with more keys than one IN list.
        q.tags().set(&mut conn, &rows)?;
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.tags().count(&mut conn)?, n as i64);
        q.tags().remove(&mut conn, &rows[..n - 5])?;
        assert_eq!(q.tags().all(&mut conn)?.len(), 5);
        q.tags().set(&mut conn, &rows[1..])?;
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.tags().count(&mut conn)?, n as i64 - 1);
        q.tags().clear(&mut conn)?;
        // Reverse foreign key: add and set with as many children.
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut questions: Vec<Question> = (0..n).map(|i| Question { question_text: format!("q{i}"), ..Default::default() }).collect();
        Question::objects().bulk_create(&mut conn, &mut questions)?;
        ada.questions().add(&mut conn, &mut questions)?;
        assert_eq!(Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?, n as i64);
        ada.questions().set(&mut conn, &mut questions[..3])?;
        assert_eq!(Question::objects().filter(question::author_id.eq(ada.id)).count(&mut conn)?, 3);
        Ok(())
    }
}
