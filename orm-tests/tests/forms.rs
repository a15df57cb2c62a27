//! Model forms: cleaning, choice validation, hostile input, and a save
//! that keeps the validated objects (with what their queryset loaded)
//! cached, with exact query counts on every backend.

use orm_core::prelude::*;
use orm_core::{assert_num_queries, capture_queries, AnyConnection, BackendKind, OrmError};
use orm_forms::{ModelForm, NON_FIELD_ERRORS};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// A stage of an event: an enum column, which forms do not edit.
#[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stage {
    #[default]
    Draft,
    Live,
}

/// An event: a moment in UTC and an enum beside plain fields.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "form_event")]
pub struct Event {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 20)]
    pub name: String,
    #[orm(choices)]
    pub stage: Stage,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Three tags, each on one earlier question; two authors.
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let mut tags: Vec<Tag> = ["zeta", "alpha", "mid"]
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut tags)?;
    for t in &tags {
        let mut q = Question {
            question_text: format!("old {}", t.name),
            ..Default::default()
        };
        q.save(conn)?;
        q.tags().add(conn, std::slice::from_ref(t))?;
    }
    for name in ["Ada", "Grace"] {
        Author {
            name: name.into(),
            ..Default::default()
        }
        .save(conn)?;
    }
    Ok(())
}

fn tag_ids(conn: &mut AnyConnection) -> orm_core::Result<Vec<i64>> {
    Ok(Tag::objects()
        .order_by(tag::id.asc())
        .load(conn)?
        .iter()
        .filter_map(|t| t.id)
        .collect())
}

backend_tests! {
    fn the_seed_scenario_save_then_render_costs_no_query(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ids = tag_ids(&mut conn)?;
        let ada = Author::objects().filter(author::name.eq("Ada")).get(&mut conn)?;
        let body = format!(
            "question_text=What%27s+new%3F&pub_date=2026-11-21+10%3A30&author={}&tags={}&tags={}&tags={}",
            ada.id.unwrap_or_default(), ids[0], ids[1], ids[2]
        );
        let form = ModelForm::<Question>::new()
            .bind_urlencoded(&body)
            // The choices are tuned: each tag comes with its questions.
            .related(Question::TAGS, Tag::objects().prefetch_related(Tag::QUESTIONS));
        let insert_extra = db.insert_cost() - 1;
        // Validation: author (1), tags (1) + their questions (2); save: INSERT,
        // INSERT links (+ the database's text order of the tags on PostgreSQL
        // and MySQL).
        let (saved, log) = capture_queries(&mut conn, |c| form.save(c));
        let q = saved?;
        assert_eq!(log.count(), 6 + insert_extra + db.collation_cost(), "{:#?}", log.queries());
        assert_eq!(q.question_text, "What's new?");
        // Rendering the saved question: no query at all.
        assert_num_queries(&mut conn, 0, |c| {
            assert_eq!(q.author(c)?.map(|a| a.name.clone()).as_deref(), Some("Ada"));
            let tags = q.tags().all(c)?;
            // The model's ordering ("name"), not the submitted order.
            assert_eq!(tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["alpha", "mid", "zeta"]);
            Ok::<_, OrmError>(())
        })?;
        // What the choices queryset prefetched of each tag's questions
        // lacks the new one: the save dropped it, so it is read again.
        let tags = q.tags().all(&mut conn)?;
        for t in tags.iter() {
            assert!(!t.questions().is_cached());
            assert_eq!(assert_num_queries(&mut conn, 1, |c| t.questions().count(c))?, 2);
        }
        // The database agrees.
        let fresh = Question::get(&mut conn, q.id.unwrap_or_default())?;
        assert_eq!(fresh.tags().count(&mut conn)?, 3);
        Ok(())
    }

    fn a_form_saved_in_a_rolled_back_transaction_keeps_no_cache(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ids = tag_ids(&mut conn)?;
        let body = format!("question_text=Gone&pub_date=2026-11-21+10%3A30&tags={}&tags={}", ids[0], ids[1]);
        let form = ModelForm::<Question>::new().bind_urlencoded(&body);
        let mut saved = None;
        let failed: orm_core::Result<()> = orm_core::atomic(&mut conn, |c| {
            let q = form.save(c)?;
            // Inside: cached, no query.
            assert_eq!(assert_num_queries(c, 0, |c| q.tags().all(c))?.len(), 2);
            saved = Some(q);
            Err(OrmError::Transaction { reason: "rolled back on purpose" })
        });
        assert!(matches!(failed, Err(OrmError::Transaction { .. })), "{failed:?}");
        let q = saved.ok_or(OrmError::NotFound { model: "Question" })?;
        // The row and its links are gone: the cache is not trusted, the
        // read asks the database (the links: none, so no second query).
        assert!(assert_num_queries(&mut conn, 1, |c| q.tags().all(c))?.is_empty());
        Ok(())
    }

    fn editing_sets_the_difference(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ids = tag_ids(&mut conn)?;
        let q = Question::objects().filter(question::question_text.eq("old zeta")).get(&mut conn)?;
        let form = ModelForm::edit(q).bind_urlencoded(&format!(
            "question_text=renamed&pub_date=2026-01-01T00:00:00&tags={}&tags={}",
            ids[1], ids[2]
        ));
        // Validation: tags (1). Save: UPDATE, DELETE, INSERT (+ the
        // database's text order of the tags on PostgreSQL and MySQL).
        let saved = assert_num_queries(&mut conn, 4 + db.collation_cost(), |c| form.save(c))?;
        let names = assert_num_queries(&mut conn, 0, |c| saved.tags().all(c))?
            .iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names, ["alpha", "mid"]);
        let fresh = Question::get(&mut conn, saved.id.unwrap_or_default())?;
        assert_eq!(fresh.question_text, "renamed");
        assert_eq!(fresh.tags().count(&mut conn)?, 2);
        Ok(())
    }

    fn objects_a_form_caches_take_the_edited_instances_fetch_mode(db) {
        use orm_core::fetch::FetchMode;
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ids = tag_ids(&mut conn)?;
        let ada = Author::objects().filter(author::name.eq("Ada")).get(&mut conn)?;
        let q = Question::objects()
            .filter(question::question_text.eq("old zeta"))
            .fetch_mode(FetchMode::Raise)
            .get(&mut conn)?;
        let form = ModelForm::edit(q).bind_urlencoded(&format!(
            "question_text=raised&pub_date=2026-01-01T00:00:00&author={}&tags={}",
            ada.id.unwrap_or_default(),
            ids[0]
        ));
        let saved = form.save(&mut conn)?;
        assert_eq!(saved.fetch_mode(), Some(FetchMode::Raise));
        let author = assert_num_queries(&mut conn, 0, |c| saved.author(c))?;
        assert_eq!(author.and_then(|a| a.fetch_mode()), Some(FetchMode::Raise));
        let tags = assert_num_queries(&mut conn, 0, |c| saved.tags().all(c))?;
        assert_eq!(tags.len(), 1);
        assert!(tags.iter().all(|t| t.fetch_mode() == Some(FetchMode::Raise)));
        Ok(())
    }

    fn editing_clears_an_optional_relation_and_keeps_the_key(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ada = Author::objects().filter(author::name.eq("Ada")).get(&mut conn)?;
        let mut q = create_question(&mut conn, "with author")?;
        q.author.set(ada);
        q.save(&mut conn)?;
        // Nothing chosen for the optional author: cleared.
        let form = ModelForm::edit(q.clone())
            .bind_urlencoded("question_text=with+author&pub_date=2026-01-01T00:00:00&author=");
        let saved = form.save(&mut conn)?;
        assert_eq!(saved.author.key(), None);
        assert_eq!(Question::get(&mut conn, q.id.unwrap_or_default())?.author.key(), None);
        // The key of a row being edited is not a form field: a new one
        // would write another row.
        let mut staff = Group { name: "staff".into(), size: 1 };
        staff.save(&mut conn)?;
        Group { name: "admins".into(), size: 2 }.save(&mut conn)?;
        let mut form = ModelForm::edit(staff).bind_urlencoded("name=admins&size=9");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(
            form.errors().get("name"),
            Some(&vec!["This field cannot be set from a form.".to_string()])
        );
        assert_eq!(Group::get(&mut conn, "admins".to_string())?.size, 2);
        Ok(())
    }

    fn a_value_forms_cannot_parse_is_refused_never_dropped(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_tables(&mut conn, &[Event::meta()])?;
        let mut form = ModelForm::<Event>::new().bind_urlencoded("name=launch&stage=Live&at=2030-01-01+10:00");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(
            form.errors().get("stage"),
            Some(&vec!["This field cannot be set from a form.".to_string()])
        );
        // A moment with its offset is stored in UTC.
        let form = ModelForm::<Event>::new().bind_urlencoded("name=launch&at=2030-01-01T10:00:00%2B02:00");
        let saved = form.save(&mut conn)?;
        let stored = Event::get(&mut conn, saved.id.unwrap_or_default())?;
        assert_eq!(stored.at.to_rfc3339(), "2030-01-01T08:00:00+00:00");
        assert_eq!(stored.stage, Stage::Draft);
        Ok(())
    }

    fn values_a_backend_refuses_are_form_errors_before_saving(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let backend = db.backend();
        // A NUL in text (PostgreSQL), the leap day of year 0 (MySQL, where
        // year 0 is no leap year): refused by the save, so refused by
        // validation, on the field, no query sent.
        let mut form = ModelForm::<Question>::new()
            .bind_urlencoded("question_text=a%00b&pub_date=0000-02-29+00%3A00");
        let valid = assert_num_queries(&mut conn, 0, |c| form.is_valid(c))?;
        let errors = form.errors().clone();
        match backend {
            BackendKind::Sqlite => assert!(valid, "{errors:?}"),
            BackendKind::Postgres => {
                assert!(errors["question_text"][0].contains("NUL"), "{errors:?}");
                assert!(!errors.contains_key("pub_date"), "{errors:?}");
            }
            BackendKind::Mysql => {
                assert!(errors["pub_date"][0].contains("0000-02-29"), "{errors:?}");
                assert!(!errors.contains_key("question_text"), "{errors:?}");
            }
        }
        // A year of fewer than four digits is no date (chrono would read
        // `26` as the year 26), nor one with a sign.
        for date in ["26-11-21+10%3A30", "-0001-01-01+00%3A00"] {
            let mut form = ModelForm::<Question>::new().bind_urlencoded(&format!("question_text=q&pub_date={date}"));
            assert!(!form.is_valid(&mut conn)?, "{date}");
            assert!(form.errors()["pub_date"][0].contains("Enter a valid date"), "{date}: {:?}", form.errors());
        }
        // A hostile text id is not a choice, not a database error.
        let mut form = ModelForm::<Membership>::new().bind_urlencoded("group=a%00b");
        assert!(!form.is_valid(&mut conn)?);
        assert!(form.errors().contains_key("group"), "{:?}", form.errors());
        // A reverse side given to `related` is the form's mistake, whatever
        // was submitted.
        let mut reverse = ModelForm::<Question>::new()
            .bind_urlencoded("question_text=x&pub_date=2026-01-01+00%3A00")
            .related(Question::CHOICES, Choice::objects());
        let refused = reverse.is_valid(&mut conn);
        assert!(matches!(refused, Err(OrmError::InvalidQuery { .. })), "{refused:?}");
        // Choices from a sliced queryset cannot be checked by key.
        let sliced = ModelForm::<Question>::new()
            .bind_urlencoded("question_text=x&pub_date=2026-01-01+00%3A00&tags=1")
            .related(Question::TAGS, Tag::objects().limit(1))
            .is_valid(&mut conn);
        assert!(matches!(sliced, Err(OrmError::InvalidQuery { .. })), "{sliced:?}");
        Ok(())
    }

    fn unique_values_another_row_holds_are_form_errors(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // A unique field: one query checks it, nothing is written.
        let mut form = ModelForm::<Tag>::new().bind_urlencoded("name=alpha");
        assert!(!assert_num_queries(&mut conn, 1, |c| form.is_valid(c))?);
        assert_eq!(form.errors()["name"], ["Tag with this name already exists."]);
        assert_eq!(form.errors().len(), 1);
        assert!(matches!(form.save(&mut conn), Err(OrmError::Invalid { model: "Tag", .. })));
        assert_eq!(Tag::objects().count(&mut conn)?, 3);
        // A value the backend cannot store (a NUL on PostgreSQL) is an
        // error on its field, not an Err from is_valid.
        let mut form = ModelForm::<Tag>::new().bind_urlencoded("name=a%00b");
        let valid = form.is_valid(&mut conn)?;
        assert_eq!(valid, db.backend() != BackendKind::Postgres, "{:?}", form.errors());
        if !valid {
            assert!(form.errors()["name"][0].contains("NUL"), "{:?}", form.errors());
        }
        // Editing: the row's own value is no conflict, another row's is.
        let alpha = Tag::objects().filter(tag::name.eq("alpha")).get(&mut conn)?;
        let saved = ModelForm::edit(alpha).bind_urlencoded("name=alpha").save(&mut conn)?;
        assert_eq!(saved.name, "alpha");
        let mid = Tag::objects().filter(tag::name.eq("mid")).get(&mut conn)?;
        let mut form = ModelForm::edit(mid).bind_urlencoded("name=alpha");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(form.errors()["name"], ["Tag with this name already exists."]);
        // A key the user sets, on a new row.
        let mut admins = Group { name: "admins".into(), size: 1 };
        admins.insert(&mut conn)?;
        let mut form = ModelForm::<Group>::new().bind_urlencoded("name=admins&size=2");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(form.errors()["name"], ["Group with this name already exists."]);
        assert_eq!(Group::get(&mut conn, "admins".into())?.size, 1);
        // unique_together, with the foreign keys the form chose: an error
        // on the whole form.
        let mut alice = User { username: "alice".into(), ..Default::default() };
        alice.save(&mut conn)?;
        alice.groups().add(&mut conn, std::slice::from_ref(&admins))?;
        // (A foreign key's choice is submitted as the target's primary key.)
        let user = alice.id.unwrap_or_default();
        let mut form = ModelForm::<Membership>::new().bind_urlencoded(&format!("user={user}&group=admins"));
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(form.errors()[NON_FIELD_ERRORS], ["Membership with this user and group already exists."]);
        let mut staff = Group { name: "staff".into(), size: 1 };
        staff.insert(&mut conn)?;
        let saved = ModelForm::<Membership>::new().bind_urlencoded(&format!("user={user}&group=staff")).save(&mut conn)?;
        assert_eq!(saved.group.key(), Some(&"staff".to_owned()));
        Ok(())
    }

    fn field_errors_are_reported_and_nothing_is_written(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let before = Question::objects().count(&mut conn)?;
        let long = "x".repeat(201);
        let body = format!(
            "question_text={long}&pub_date=yesterday&author=abc&tags=99999&tags=1%27%3B+DROP+TABLE+tag%3B--&unknown=1"
        );
        let mut form = ModelForm::<Question>::new().bind_urlencoded(&body);
        assert!(!form.is_valid(&mut conn)?);
        let errors = form.errors();
        assert_eq!(errors["question_text"], ["Ensure this value has at most 200 characters (it has 201)."]);
        assert_eq!(errors["pub_date"], ["Enter a valid date and time (YYYY-MM-DD HH:MM[:SS])."]);
        assert_eq!(errors["author"], ["“abc” is not a valid id."]);
        assert_eq!(errors["tags"], ["“1'; DROP TABLE tag;--” is not a valid id."]);
        assert_eq!(errors["unknown"], ["Unknown field."]);
        let err = form.save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::Invalid { model: "Question", .. }), "{err}");
        // An id that is not among the (narrowed) choices.
        let ids = tag_ids(&mut conn)?;
        let mut form = ModelForm::<Question>::new()
            .bind_urlencoded(&format!("question_text=q&pub_date=2026-01-01+00%3A00&tags={}", ids[0]))
            .related(Question::TAGS, Tag::objects().filter(tag::name.ne("zeta")));
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(
            form.errors()["tags"],
            [format!("Select a valid choice. {} is not one of the available choices.", ids[0])]
        );
        // Required fields and huge input.
        let mut form = ModelForm::<Question>::new().bind_urlencoded("question_text=");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(form.errors()["question_text"], ["This field is required."]);
        assert_eq!(form.errors()["pub_date"], ["This field is required."]);
        let huge = format!("question_text={}", "y".repeat(2 << 20));
        let mut form = ModelForm::<Question>::new().bind_urlencoded(&huge);
        assert!(!assert_num_queries(&mut conn, 0, |c| form.is_valid(c))?);
        assert!(form.errors().contains_key(NON_FIELD_ERRORS));
        // Integers out of range, repeated single values.
        let mut form = ModelForm::<Choice>::new().bind_urlencoded("choice_text=a&votes=99999999999&question=1&question=2");
        assert!(!form.is_valid(&mut conn)?);
        assert!(form.errors()["votes"][0].starts_with("Enter a whole number"));
        assert_eq!(form.errors()["question"], ["Select one choice."]);
        // Bytes that are not UTF-8: an error on that field, nothing stored
        // as U+FFFD; a real U+FFFD (%EF%BF%BD) and `+` are decoded.
        let mut form = ModelForm::<Question>::new()
            .bind_urlencoded("question_text=%FF%FEabc&pub_date=2026-01-01+00%3A00");
        assert!(!form.is_valid(&mut conn)?);
        assert_eq!(form.errors()["question_text"], ["Enter valid text: the submitted value is not UTF-8."]);
        assert_eq!(form.errors().len(), 1, "{:?}", form.errors());
        let saved = ModelForm::<Question>::new()
            .bind_urlencoded("question_text=a+%EF%BF%BD+b&pub_date=2026-01-01+00%3A00")
            .save(&mut conn)?;
        assert_eq!(saved.question_text, "a \u{FFFD} b");
        assert_eq!(Question::objects().count(&mut conn)?, before + 1);
        Ok(())
    }

    fn a_failing_save_rolls_everything_back(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let before = Question::objects().count(&mut conn)?;
        let links_before = QuestionTags::objects().count(&mut conn)?;
        let ids = tag_ids(&mut conn)?;
        let mut form = ModelForm::<Question>::new()
            .bind_urlencoded(&format!("question_text=q&pub_date=2026-01-01+00%3A00&tags={}", ids[0]));
        assert!(form.is_valid(&mut conn)?);
        // The tag disappears between validation and save: the link INSERT fails.
        Tag::objects().filter(tag::id.eq(ids[0])).delete(&mut conn)?;
        assert!(matches!(form.save(&mut conn), Err(OrmError::Database(_))));
        assert_eq!(Question::objects().count(&mut conn)?, before);
        assert_eq!(QuestionTags::objects().count(&mut conn)?, links_before - 1);
        Ok(())
    }
}
