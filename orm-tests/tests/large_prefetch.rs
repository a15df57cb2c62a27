//! `prefetch_related` past one IN list: one query per chunk, and each
//! owner's rows in the database's order (its collation), exactly what a
//! query of that owner alone returns. Text that orders differently by
//! byte and by a case-insensitive collation (`"Rex"`, `"bella"`) shows a
//! merge done in Rust. On every backend.

use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// One more owner (or target) than an IN list holds.
fn past_one_in_list(conn: &AnyConnection) -> usize {
    conn.backend().max_in_list() + 1
}

fn pet_names(pets: &[Pet]) -> Vec<String> {
    pets.iter().map(|p| p.name.clone()).collect()
}

fn tag_names<T: std::borrow::Borrow<Tag>>(tags: &[T]) -> Vec<String> {
    tags.iter().map(|t| t.borrow().name.clone()).collect()
}

backend_tests! {
    fn reverse_rows_past_one_in_list_keep_the_database_order(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let count = past_one_in_list(&conn);
        let mut people: Vec<Person> =
            (0..count).map(|i| Person { name: format!("p{i}"), ..Default::default() }).collect();
        Person::objects().bulk_create(&mut conn, &mut people)?;
        // The last person's pets are in the last chunk; two of the same
        // age, ordered by name.
        let owner = &people[count - 1];
        for name in ["Rex", "bella", "Ziggy"] {
            let age = if name == "Ziggy" { 2 } else { 3 };
            owner.pets().create(&mut conn, Pet { name: name.into(), age: Some(age), ..Default::default() })?;
        }
        let expected = owner.pets().query()?.load(&mut conn)?;
        let (loaded, log) = capture_queries(&mut conn, |c| {
            Person::objects().order_by(person::id.asc()).prefetch_related(Person::PETS).load(c)
        });
        let loaded = loaded?;
        // The people, then the pets: one query per chunk of owners.
        assert_eq!(log.count(), 1 + 2, "{:?}", log.queries().len());
        let last = loaded.last().and_then(|p| p.pets().cached()).unwrap_or_default();
        assert_eq!(pet_names(&last), pet_names(&expected));
        assert_eq!(last.len(), 3);
        Ok(())
    }

    fn many_to_many_past_one_in_list_keeps_the_database_order(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let count = past_one_in_list(&conn);
        let mut names_made: Vec<String> = (2..count).map(|i| format!("t{i:06}")).collect();
        names_made.extend(["alpha".to_owned(), "Beta".to_owned()]);
        let refs: Vec<&str> = names_made.iter().map(String::as_str).collect();
        let tags = create_tags(&mut conn, &refs)?;
        let q1 = create_question(&mut conn, "q1")?;
        let q2 = create_question(&mut conn, "q2")?;
        q1.tags().add(&mut conn, &tags[count - 2..])?;
        q2.tags().add(&mut conn, &tags[..count - 2])?;
        let expected = q1.tags().query()?.load(&mut conn)?;
        let (loaded, log) = capture_queries(&mut conn, |c| {
            Question::objects().order_by(question::id.asc()).prefetch_related(Question::TAGS).load(c)
        });
        let loaded = loaded?;
        // The questions, the links, then the targets through the link
        // table (one chunk of owners).
        assert_eq!(log.count(), 3, "{:?}", log.queries().len());
        let first = loaded.first().and_then(|q| q.tags().cached()).unwrap_or_default();
        let got = tag_names(&first);
        assert_eq!(got, tag_names(&expected));
        assert_eq!(got.len(), 2);
        let second = loaded.get(1).and_then(|q| q.tags().cached()).map_or(0, |rows| rows.len());
        assert_eq!(second, count - 2);
        Ok(())
    }
}
