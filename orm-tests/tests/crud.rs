//! CRUD and querysets on every backend.

use chrono::NaiveDate;
use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

fn date(day: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, day)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("valid date")
}

fn question(text: &str, day: u32) -> Question {
    Question {
        question_text: text.into(),
        pub_date: date(day),
        ..Default::default()
    }
}

fn setup(conn: &mut orm_core::AnyConnection) -> orm_core::Result<()> {
    create_all(conn)
}

/// A nullable unique field and a unique pair with a nullable side.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "crud_badge", unique_together = "owner, slot")]
pub struct Badge {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 20)]
    pub code: Option<String>,
    pub owner: i32,
    pub slot: Option<i32>,
}

backend_tests! {
    fn unique_conflicts_name_what_another_row_holds(db) {
        let mut conn = db.get()?;
        schema::create_table::<Badge>(&mut conn)?;
        let mut first = Badge { code: Some("a".into()), owner: 1, slot: Some(1), ..Default::default() };
        first.save(&mut conn)?;
        Badge { owner: 1, ..Default::default() }.save(&mut conn)?;
        // Its own row is no conflict.
        assert!(assert_num_queries(&mut conn, 2, |c| first.unique_conflicts(c))?.is_empty());
        let twin = Badge { code: Some("a".into()), owner: 1, slot: Some(1), ..Default::default() };
        let conflicts = twin.unique_conflicts(&mut conn)?;
        let fields: Vec<&[&str]> = conflicts.iter().map(|c| c.fields.as_slice()).collect();
        assert_eq!(fields, [&["code"][..], &["owner", "slot"][..]]);
        assert_eq!(conflicts[1].to_string(), "Badge with this owner and slot already exists.");
        // NULLs conflict with nothing, as the constraints allow them twice.
        let nulls = Badge { owner: 1, ..Default::default() };
        assert!(nulls.unique_conflicts(&mut conn)?.is_empty());
        let mut nulls = nulls;
        nulls.save(&mut conn)?;
        Ok(())
    }

    fn save_inserts_then_updates(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut q = question("What's new?", 1);
        assert_num_queries(&mut conn, db.insert_cost(), |c| q.save(c))?;
        let id = q.id.expect("save fills the auto key");
        let mut second = question("Second", 2);
        second.save(&mut conn)?;
        assert_eq!(second.id, Some(id + 1));

        q.question_text = "What's up?".into();
        assert_num_queries(&mut conn, 1, |c| q.save(c))?;
        let loaded = assert_num_queries(&mut conn, 1, |c| Question::get(c, id))?;
        assert_eq!(loaded, q);
        assert_eq!(Question::objects().count(&mut conn)?, 2);
        Ok(())
    }

    fn get_errors_are_typed(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        assert!(matches!(Question::get(&mut conn, 42), Err(OrmError::NotFound { model: "Question" })));
        question("a", 1).save(&mut conn)?;
        question("b", 2).save(&mut conn)?;
        let err = Question::objects().get(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::MultipleFound { model: "Question", count: 2 }), "{err}");
        let err = Question::objects().filter(question::question_text.eq("zzz")).get(&mut conn).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        let one = Question::objects().filter(question::question_text.eq("b")).get(&mut conn)?;
        assert_eq!(one.question_text, "b");
        Ok(())
    }

    fn default_and_explicit_ordering(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        for (text, day) in [("old", 1), ("new", 3), ("mid", 2)] {
            question(text, day).save(&mut conn)?;
        }
        let texts = |qs: Vec<Question>| qs.into_iter().map(|q| q.question_text).collect::<Vec<_>>();
        // Model ordering "-pub_date, id".
        assert_eq!(texts(Question::objects().load(&mut conn)?), ["new", "mid", "old"]);
        assert_eq!(
            texts(Question::objects().order_by(question::question_text.asc()).load(&mut conn)?),
            ["mid", "new", "old"]
        );
        assert_eq!(
            texts(Question::objects().limit(1).offset(1).load(&mut conn)?),
            ["mid"]
        );
        assert_eq!(texts(Question::objects().offset(2).load(&mut conn)?), ["old"]);
        let first = Question::objects().first(&mut conn)?.map(|q| q.question_text);
        assert_eq!(first.as_deref(), Some("new"));
        assert!(Question::objects().filter(question::question_text.eq("none")).first(&mut conn)?.is_none());
        Ok(())
    }

    fn filter_exclude_count_exists(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut rows: Vec<Question> = (1..=5).map(|d| question(&format!("q{d}"), d)).collect();
        assert_num_queries(&mut conn, db.insert_cost(), |c| Question::objects().bulk_create(c, &mut rows))?;
        let ids: Vec<i64> = rows.iter().filter_map(|q| q.id).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let late = Question::objects().filter(question::pub_date.ge(date(3)));
        assert_eq!(late.count(&mut conn)?, 3);
        assert_eq!(late.clone().exclude(question::question_text.eq("q4")).count(&mut conn)?, 2);
        assert!(late.exists(&mut conn)?);
        assert!(!late.clone().limit(0).exists(&mut conn)?);
        assert_eq!(late.clone().limit(0).count(&mut conn)?, 0);
        // A sliced count is one COUNT over a subquery: no row is loaded.
        let (sliced, log) = orm_core::capture_queries(&mut conn, |c| late.clone().offset(1).limit(5).count(c));
        assert_eq!((sliced?, log.count()), (2, 1));
        assert!(log.queries()[0].starts_with("SELECT COUNT(*) FROM (SELECT 1"), "{:?}", log.queries());
        assert!(!Question::objects().filter(question::pub_date.gt(date(9))).exists(&mut conn)?);
        let loaded = Question::objects().filter(question::id.eq_any(ids.clone())).load(&mut conn)?;
        assert_eq!(loaded.len(), 5);
        Ok(())
    }

    fn queryset_update_and_delete(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut rows: Vec<Question> = (1..=4).map(|d| question(&format!("q{d}"), d)).collect();
        Question::objects().bulk_create(&mut conn, &mut rows)?;
        let updated = assert_num_queries(&mut conn, 1, |c| {
            Question::objects()
                .filter(question::pub_date.lt(date(3)))
                .update(c, question::question_text.eq("early"))
        })?;
        assert_eq!(updated, 2);
        assert_eq!(Question::objects().filter(question::question_text.eq("early")).count(&mut conn)?, 2);
        let deleted = assert_num_queries(&mut conn, 1, |c| {
            Question::objects().filter(question::question_text.eq("early")).delete(c)
        })?;
        assert_eq!(deleted, 2);
        assert_eq!(Question::objects().count(&mut conn)?, 2);
        assert!(matches!(
            Question::objects().limit(1).delete(&mut conn),
            Err(OrmError::InvalidQuery { .. })
        ));
        assert_eq!(Question::objects().update(&mut conn, question::question_text.eq("all"))?, 2);
        Ok(())
    }

    fn delete_and_refresh(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut q = question("x", 1);
        q.save(&mut conn)?;
        let mut stale = q.clone();
        q.question_text = "changed".into();
        q.save(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| stale.refresh_from_db(c))?;
        assert_eq!(stale.question_text, "changed");
        assert_eq!(q.delete(&mut conn)?, 1);
        assert_eq!(q.id, None);
        assert!(stale.refresh_from_db(&mut conn).unwrap_err().is_not_found());
        // Saving a deleted instance inserts it again under a new key.
        q.save(&mut conn)?;
        assert_eq!(Question::objects().count(&mut conn)?, 1);
        assert!(matches!(question("y", 1).delete(&mut conn), Err(OrmError::Unsaved { .. })));
        Ok(())
    }

    fn delete_drops_what_the_instance_cached(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut admins = Group { name: "admins".into(), size: 1 };
        admins.save(&mut conn)?;
        let mut ada = User { username: "ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        ada.groups().set(&mut conn, &[admins])?;
        // The memberships cascade with the user. Its groups are bound to
        // the username, which outlives the row: the cache must go too.
        ada.delete(&mut conn)?;
        ada.save(&mut conn)?;
        let groups = assert_num_queries(&mut conn, 1, |c| ada.groups().all(c).map(|g| g.len()))?;
        assert_eq!(groups, 0);
        // The rows a deleted instance's many-to-many cached forget it on
        // their side (its links went with it).
        let t = create_tags(&mut conn, &["a"])?;
        let mut q = create_question(&mut conn, "q")?;
        q.tags().set(&mut conn, &t)?;
        let tag = std::sync::Arc::clone(&q.tags().all(&mut conn)?[0]);
        assert_eq!(tag.questions().all(&mut conn)?.len(), 1);
        q.delete(&mut conn)?;
        assert!(!tag.questions().is_cached());
        assert!(tag.questions().all(&mut conn)?.is_empty());
        Ok(())
    }

    fn every_field_type_round_trips(db) {
        let mut conn = db.get()?;
        schema::create_table::<Everything>(&mut conn)?;
        let (mut full, mut empty) = Everything::samples();
        empty.scratch = 9;
        full.save(&mut conn)?;
        empty.save(&mut conn)?;
        let mut loaded = Everything::objects().order_by(everything::id.asc()).load(&mut conn)?;
        empty.scratch = 0; // skipped fields are not stored
        assert_eq!(loaded.pop(), Some(empty));
        assert_eq!(loaded.pop(), Some(full.clone()));
        // A refresh reloads what is stored; a skipped field keeps its value.
        full.scratch = 7;
        full.small = -1;
        full.refresh_from_db(&mut conn)?;
        assert_eq!((full.scratch, full.small), (7, Everything::samples().0.small));
        Ok(())
    }

    fn keyword_tables_and_manual_keys(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut order = Order { group_name: "select".into(), ..Default::default() };
        order.save(&mut conn)?;
        assert_eq!(Order::objects().filter(order::group_name.eq("select")).count(&mut conn)?, 1);
        let mut group = Group { name: "admins".into(), size: 2 };
        // A manual key that is not stored yet: one upsert on the key inserts
        // it; on MySQL an UPDATE finds no row, then an INSERT.
        let first_save = if db.backend() == orm_core::BackendKind::Mysql { 2 } else { 1 };
        assert_num_queries(&mut conn, first_save, |c| group.save(c))?;
        group.size = 3;
        assert_num_queries(&mut conn, 1, |c| group.save(c))?;
        // Saving unchanged values still counts as found (MySQL reports matched rows).
        assert_num_queries(&mut conn, 1, |c| group.save(c))?;
        assert_eq!(Group::get(&mut conn, "admins".into())?.size, 3);
        let mut other = Group { name: "users".into(), size: 1 };
        assert_num_queries(&mut conn, 1, |c| other.insert(c))?;
        assert!(matches!(other.insert(&mut conn), Err(OrmError::Database(_))));
        Ok(())
    }

    fn unique_constraint_is_a_database_error(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        Author { name: "Ada".into(), ..Default::default() }.save(&mut conn)?;
        let err = Author { name: "Ada".into(), ..Default::default() }.save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation, _))), "{err}");
        Ok(())
    }

    fn bulk_create_is_atomic(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut authors = vec![
            Author { name: "A".into(), ..Default::default() },
            Author { name: "A".into(), ..Default::default() },
        ];
        assert!(Author::objects().bulk_create(&mut conn, &mut authors).is_err());
        assert_eq!(Author::objects().count(&mut conn)?, 0);
        assert!(authors.iter().all(|a| a.id.is_none()));
        Ok(())
    }

    fn a_model_with_only_a_key_inserts_default_values(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut one = Ticket::default();
        assert_num_queries(&mut conn, db.insert_cost(), |c| one.save(c))?;
        let mut more = vec![Ticket::default(), Ticket::default()];
        Ticket::objects().bulk_create(&mut conn, &mut more)?;
        let ids: Vec<i64> = std::iter::once(&one).chain(&more).filter_map(|t| t.id).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(Ticket::objects().count(&mut conn)?, 3);
        // Saving an existing row with nothing to update finds it: no INSERT.
        assert_num_queries(&mut conn, 1, |c| one.save(c))?;
        assert_eq!(Ticket::objects().count(&mut conn)?, 3);
        Ok(())
    }
}
