//! Fetch modes ONE / PEERS / RAISE for forward relations, with exact query
//! counts, on every backend.

use chrono::NaiveDate;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

const N: usize = 12;

/// Collects the messages of the N+1 reports (`tracing` events with target
/// `orm::n_plus_one`) while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Reports(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Reports {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "orm::n_plus_one"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        if let Ok(mut lines) = self.0.lock() {
            lines.push(message.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// N questions (each by its own author), one choice each.
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let day = NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    for i in 0..N {
        let mut author = Author {
            name: format!("author {i}"),
            ..Default::default()
        };
        author.save(conn)?;
        let mut q = Question {
            question_text: format!("q{i}"),
            pub_date: day,
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
    }
    Ok(())
}

backend_tests! {
    fn a_batch_load_binds_integer_keys_as_one_parameter_where_it_can(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        let (loaded, log) = orm_core::capture_queries(&mut conn, |c| {
            with_fetch_mode(FetchMode::Peers, || choices[0].question(c).map(|q| q.id))
        });
        assert!(loaded?.is_some());
        assert_eq!(log.count(), 1);
        let sql = &log.queries()[0];
        let expected = match db.backend() {
            // One JSON array: the same statement text whatever the number of keys.
            orm_core::BackendKind::Sqlite => "IN (SELECT value FROM json_each(",
            orm_core::BackendKind::Postgres => "= ANY(",
            orm_core::BackendKind::Mysql => "IN (",
        };
        assert!(sql.contains(expected), "{sql}");
        // Every peer got its own question.
        for (i, choice) in choices.iter().enumerate() {
            let question = assert_num_queries(&mut conn, 0, |c| choice.question(c))?;
            assert_eq!(question.question_text, format!("q{i}"));
        }
        // A second batch (a fresh load) reuses the statement: same text.
        let again = Choice::objects().load(&mut conn)?;
        let (_, second) = orm_core::capture_queries(&mut conn, |c| {
            with_fetch_mode(FetchMode::Peers, || again[0].question(c).map(|_| ()))
        });
        if db.backend() == orm_core::BackendKind::Sqlite {
            assert_eq!(&second.queries()[0], sql);
        }
        Ok(())
    }

    fn a_batch_load_binds_its_keys_sorted(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // The newest choice first: its questions' keys come in descending.
        let choices = Choice::objects().order_by(choice::id.desc()).load(&mut conn)?;
        let (loaded, log) = orm_core::capture_queries(&mut conn, |c| {
            with_fetch_mode(FetchMode::Peers, || choices[0].question(c).map(|q| q.id))
        });
        assert!(loaded?.is_some());
        let sql = &log.queries()[0];
        let binds = sql.split("binds: [").nth(1).unwrap_or("");
        let keys: Vec<i64> = binds
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|k| k.parse().ok())
            .collect();
        assert_eq!(keys.len(), N, "{sql}");
        assert!(keys.is_sorted(), "ascending, for the index walk: {sql}");
        Ok(())
    }

    fn peers_load_for_every_live_instance_in_one_query(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        let texts = assert_num_queries(&mut conn, 1, |c| {
            choices.iter().map(|ch| ch.question(c).map(|q| q.question_text.clone())).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(texts.len(), N);
        // The questions loaded together are peers too: one query per hop.
        let authors = assert_num_queries(&mut conn, 1, |c| {
            choices
                .iter()
                .map(|ch| ch.question(c)?.author(c).map(|a| a.map(|a| a.name.clone())))
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert!(authors.iter().all(Option::is_some));
        Ok(())
    }

    fn one_fetches_per_instance(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        let peers_texts: Vec<String> = {
            let again = Choice::objects().load(&mut conn)?;
            again.iter().map(|ch| ch.question(&mut conn).map(|q| q.question_text.clone())).collect::<orm_core::Result<_>>()?
        };
        let reports = Reports::default();
        let (one_texts, counted) = tracing::subscriber::with_default(reports.clone(), || {
            orm_core::fetch::count_n_plus_one(|| {
                with_fetch_mode(FetchMode::One, || {
                    assert_num_queries(&mut conn, N, |c| {
                        choices.iter().map(|ch| ch.question(c).map(|q| q.question_text.clone())).collect::<orm_core::Result<Vec<_>>>()
                    })
                })
            })
        });
        // Same values whatever the mode, and the N+1 was reported.
        assert_eq!(one_texts?, peers_texts);
        assert_eq!(counted, N);
        let logged = reports.0.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(logged.len(), N);
        assert!(logged[0].starts_with("N+1 query: Choice.question fetched for one instance that has peers"), "{}", logged[0]);
        Ok(())
    }

    fn one_reports_to_many_and_reverse_one_to_one_fetches_too(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        for (i, name) in ["u1", "u2", "u3"].iter().enumerate() {
            let mut user = User { username: (*name).into(), ..Default::default() };
            user.save(&mut conn)?;
            if i < 2 {
                let mut profile = Profile { bio: "b".into(), ..Default::default() };
                profile.user.set_key(user.id);
                profile.save(&mut conn)?;
            }
        }
        let users = User::objects().load(&mut conn)?;
        let questions = Question::objects().load(&mut conn)?;
        let (result, counted) = orm_core::fetch::count_n_plus_one(|| {
            with_fetch_mode(FetchMode::One, || {
                users.iter().try_for_each(|u| u.profile(&mut conn).map(|_| ()))?;
                questions.iter().try_for_each(|q| q.choices().all(&mut conn).map(|_| ()))
            })
        });
        result?;
        assert_eq!(counted, users.len() + questions.len());
        Ok(())
    }

    fn raise_blocks_and_loaded_values_never_consult_the_mode(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = Choice::objects().load(&mut conn)?;
        let err = with_fetch_mode(FetchMode::Raise, || choices[0].question(&mut conn).map(|_| ()).unwrap_err());
        assert!(matches!(err, OrmError::FetchBlocked { model: "Choice", field: "question" }));
        assert_eq!(err.to_string(), "Fetching of Choice.question blocked.");
        choices[0].question(&mut conn)?;
        // Loaded now (for every peer): RAISE does not apply, no query.
        with_fetch_mode(FetchMode::Raise, || {
            assert_num_queries(&mut conn, 0, |c| choices.iter().try_for_each(|ch| ch.question(c).map(|_| ())))
        })?;
        // A null key never consults the mode.
        let anonymous = Question::default();
        assert!(with_fetch_mode(FetchMode::Raise, || anonymous.author(&mut conn))?.is_none());
        Ok(())
    }

    fn dropped_peers_are_not_fetched_for(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut choices = Choice::objects().load(&mut conn)?;
        choices.truncate(2);
        let (_, log) = orm_core::capture_queries(&mut conn, |c| choices[0].question(c).map(|_| ()));
        assert_eq!(log.count(), 1);
        // Only the two live instances were fetched for: two keys bound.
        let sql = log.queries()[0].to_owned();
        let binds = sql.split("binds: [").nth(1).unwrap_or("");
        assert_eq!(binds.trim_end_matches(']').split(',').count(), 2, "{sql}");
        assert!(choices[1].question.is_loaded());
        // Peers that share a parent share one loaded object.
        let q = Question::objects().first(&mut conn)?.ok_or(OrmError::NotFound { model: "Question" })?;
        let mut extra = Choice { choice_text: "twin".into(), ..Default::default() };
        extra.question.set_key(q.id);
        extra.save(&mut conn)?;
        let twins = Choice::objects().filter(choice::question_id.eq(q.id.unwrap_or_default())).load(&mut conn)?;
        assert_eq!(twins.len(), 2);
        let a = twins[0].question(&mut conn)? as *const Question;
        let b = assert_num_queries(&mut conn, 0, |c| twins[1].question(c).map(|q| q as *const Question))?;
        assert_eq!(a, b);
        Ok(())
    }

    fn instances_pointing_at_one_row_share_its_entry(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let q = Question::objects().first(&mut conn)?.ok_or(OrmError::NotFound { model: "Question" })?;
        let mut twin = Choice { choice_text: "twin".into(), ..Default::default() };
        twin.question.set_key(q.id);
        twin.save(&mut conn)?;
        // The key stays in the batch while one instance holding it lives.
        let mut choices = Choice::objects().load(&mut conn)?;
        let first_twin = choices.iter().position(|c| c.question.key() == q.id.as_ref());
        choices.remove(first_twin.unwrap_or_default());
        let other = choices.iter().position(|c| c.question.key() != q.id.as_ref()).unwrap_or_default();
        let (_, log) = orm_core::capture_queries(&mut conn, |c| choices[other].question(c).map(|_| ()));
        let sql = log.queries()[0].to_owned();
        let binds = sql.split("binds: [").nth(1).unwrap_or("");
        assert_eq!(binds.trim_end_matches(']').split(',').count(), N, "{sql}");
        assert!(choices.iter().all(|c| c.question.is_loaded()));
        // Under ONE too, a row loaded for one instance is loaded for the
        // instances of the same query pointing at it: one object, one query.
        let twins = Choice::objects().filter(choice::question_id.eq(q.id.unwrap_or_default())).load(&mut conn)?;
        with_fetch_mode(FetchMode::One, || -> orm_core::Result<()> {
            let a = assert_num_queries(&mut conn, 1, |c| twins[0].question(c).map(|q| q as *const Question))?;
            let b = assert_num_queries(&mut conn, 0, |c| twins[1].question(c).map(|q| q as *const Question))?;
            assert_eq!(a, b);
            Ok(())
        })?;
        Ok(())
    }

    fn leaving_a_shared_entry_keeps_it_for_its_other_holders(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let questions = Question::objects().load(&mut conn)?;
        let (q0, q1) = (questions[0].id, questions[1].id);
        let mut twin = Choice { choice_text: "twin".into(), ..Default::default() };
        twin.question.set_key(q0);
        twin.save(&mut conn)?;
        // The two choices of q0 first, then one choice per other question.
        let mut choices = Choice::objects().load(&mut conn)?;
        choices.sort_by_key(|c| c.question.key() != q0.as_ref());
        // One holder of q0's entry points elsewhere, the other is dropped:
        // nobody holds it, so the batch load leaves q0 out.
        choices[0].question.set_key(q1);
        choices.remove(1);
        let (_, log) = orm_core::capture_queries(&mut conn, |c| choices[1].question(c).map(|_| ()));
        let sql = log.queries()[0].to_owned();
        let binds = sql.split("binds: [").nth(1).unwrap_or("");
        assert_eq!(binds.trim_end_matches(']').split(',').count(), N - 1, "{sql}");
        // The one that changed its key left the batch: it loads alone.
        assert!(!choices[0].question.is_loaded());
        let id = assert_num_queries(&mut conn, 1, |c| choices[0].question(c).map(|q| q.id))?;
        assert_eq!(id, q1);

        // Invalidating one holder's relation leaves the other's loaded.
        let mut twins = Choice::objects().filter(choice::question_id.eq(q0.unwrap_or_default())).load(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| twins[0].question(c).map(|_| ()))?;
        twins[0].question.invalidate();
        assert!(!twins[0].question.is_loaded() && twins[1].question.is_loaded());
        assert_num_queries(&mut conn, 0, |c| twins[1].question(c).map(|_| ()))?;
        assert_num_queries(&mut conn, 1, |c| twins[0].question(c).map(|_| ()))?;
        Ok(())
    }

    fn a_clone_leaves_the_peer_batch_and_keeps_what_was_loaded(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let choices = with_fetch_mode(FetchMode::Peers, || Choice::objects().load(&mut conn))?;
        // A clone taken before loading is an instance of its own: it loads
        // for itself (one key bound), and the originals stay unloaded.
        let early = choices[0].clone();
        let (_, log) = orm_core::capture_queries(&mut conn, |c| {
            with_fetch_mode(FetchMode::Peers, || early.question(c).map(|_| ()))
        });
        assert_eq!(log.count(), 1);
        let binds = log.queries()[0].split("binds: [").nth(1).unwrap_or("").to_owned();
        assert_eq!(binds.trim_end_matches(']').split(',').count(), 1, "{binds}");
        assert!(choices.iter().all(|ch| !ch.question.is_loaded()));
        // The originals are still one batch: one query for all of them.
        assert_num_queries(&mut conn, 1, |c| {
            with_fetch_mode(FetchMode::Peers, || choices[1].question(c).map(|_| ()))
        })?;
        assert!(choices.iter().all(|ch| ch.question.is_loaded()));
        // A clone taken after loading keeps the loaded target.
        let late = choices[2].clone();
        let text = with_fetch_mode(FetchMode::Raise, || late.question(&mut conn).map(|q| q.question_text.clone()))?;
        assert_eq!(text, choices[2].question.cached().map(|q| q.question_text.clone()).unwrap_or_default());
        Ok(())
    }

    fn a_dropped_instance_frees_its_cached_rows(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut questions = with_fetch_mode(FetchMode::Peers, || Question::objects().load(&mut conn))?;
        assert_num_queries(&mut conn, 1, |c| questions[0].choices().all(c).map(|_| ()))?;
        let rows = questions[1].choices().cached().ok_or(OrmError::NotFound { model: "Choice" })?;
        assert_eq!(std::sync::Arc::strong_count(&rows), 2, "the slot and this handle");
        drop(questions.remove(1));
        assert_eq!(std::sync::Arc::strong_count(&rows), 1, "the dropped instance's rows are freed");
        // The other peers keep theirs.
        assert_num_queries(&mut conn, 0, |c| questions.iter().try_for_each(|q| q.choices().all(c).map(|_| ())))?;
        Ok(())
    }

    fn unfiltered_to_many_access_loads_for_every_peer(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Reverse foreign key: one query for every live peer's choices.
        let questions = Question::objects().load(&mut conn)?;
        let first = assert_num_queries(&mut conn, 1, |c| questions[0].choices().all(c))?;
        assert_eq!(first.len(), 1);
        let counts = assert_num_queries(&mut conn, 0, |c| {
            questions.iter().map(|q| q.choices().all(c).map(|rows| rows.len())).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(counts, vec![1; N]);
        // Filtered or counted queries stay per instance.
        let fresh = Question::objects().load(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| fresh[0].choices().query()?.filter(choice::votes.ge(0)).load(c))?;
        assert_num_queries(&mut conn, 1, |c| fresh[1].choices().count(c))?;
        assert!(!fresh[1].choices().is_cached());
        // Many-to-many: two queries (links, tags) for every live peer.
        let mut tag = Tag { name: "t".into(), ..Default::default() };
        tag.save(&mut conn)?;
        for q in &questions {
            q.tags().add(&mut conn, std::slice::from_ref(&tag))?;
        }
        let mut questions = Question::objects().load(&mut conn)?;
        questions.truncate(N / 2);
        let (_, log) = orm_core::capture_queries(&mut conn, |c| questions[0].tags().all(c).map(|_| ()));
        assert_eq!(log.count(), 2);
        // Only the live peers were fetched for.
        let binds = log.queries()[0].split("binds: [").nth(1).unwrap_or("").to_owned();
        assert_eq!(binds.trim_end_matches(']').split(',').count(), N / 2, "{binds}");
        assert_num_queries(&mut conn, 0, |c| questions.iter().try_for_each(|q| q.tags().all(c).map(|_| ())))?;
        // Under ONE, each manager loads for itself.
        let questions = Question::objects().fetch_mode(FetchMode::One).load(&mut conn)?;
        assert_num_queries(&mut conn, N, |c| questions.iter().try_for_each(|q| q.choices().all(c).map(|_| ())))?;
        Ok(())
    }

    fn one_to_one_in_both_directions(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        for i in 0..N {
            let mut user = User { username: format!("user{i}"), ..Default::default() };
            user.save(&mut conn)?;
            // Every other user has a profile.
            if i % 2 == 0 {
                let mut profile = Profile { bio: format!("bio {i}"), ..Default::default() };
                profile.user.set_key(user.id);
                profile.save(&mut conn)?;
            }
        }
        // Reverse side under PEERS: one query for every live peer; a missing
        // profile is cached as None and not queried again.
        let users = User::objects().order_by(user::id.asc()).load(&mut conn)?;
        let bios = assert_num_queries(&mut conn, 1, |c| {
            users.iter().map(|u| Ok(u.profile(c)?.map(|p| p.bio.clone()))).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(bios.iter().filter(|b| b.is_some()).count(), N / 2);
        assert!(bios[1].is_none());
        assert!(assert_num_queries(&mut conn, 0, |c| users[1].profile(c))?.is_none());
        // ONE: per instance. RAISE: an error.
        let users = User::objects().fetch_mode(FetchMode::One).load(&mut conn)?;
        assert_num_queries(&mut conn, N, |c| users.iter().try_for_each(|u| u.profile(c).map(|_| ())))?;
        let users = User::objects().fetch_mode(FetchMode::Raise).load(&mut conn)?;
        let err = users[0].profile(&mut conn).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "Fetching of User.profile blocked.");
        // Forward side: a one-to-one is a unique foreign key, with peers.
        let profiles = Profile::objects().load(&mut conn)?;
        let names = assert_num_queries(&mut conn, 1, |c| {
            profiles.iter().map(|p| p.user(c).map(|u| u.username.clone())).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(names.len(), N / 2);
        // A second profile for the same user violates the unique constraint.
        let mut dup = Profile::default();
        dup.user.set_key(users[0].id);
        assert!(dup.save(&mut conn).is_err());
        // Prefetch of the reverse side.
        let users = assert_num_queries(&mut conn, 2, |c| User::objects().prefetch_related(User::PROFILE).load(c))?;
        assert_num_queries(&mut conn, 0, |c| users.iter().try_for_each(|u| u.profile(c).map(|_| ())))?;
        Ok(())
    }

    fn a_locally_changed_peer_keeps_its_value(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut choices = Choice::objects().order_by(choice::id.asc()).load(&mut conn)?;
        let last_question = choices[N - 1].question.key().copied();
        // Changed locally, not saved: it leaves the peer group.
        choices[0].question.set_key(last_question);
        let texts = assert_num_queries(&mut conn, 1, |c| {
            choices[1..].iter().map(|ch| ch.question(c).map(|q| q.id)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(texts.len(), N - 1);
        assert!(!choices[0].question.is_loaded());
        let mine = assert_num_queries(&mut conn, 1, |c| choices[0].question(c).map(|q| q.id))?;
        assert_eq!(mine, last_question);
        // A dangling key: the same typed error on every access, under every mode.
        choices[2].question.set_key(Some(99_999));
        for mode in [FetchMode::Peers, FetchMode::One, FetchMode::Peers] {
            let err = with_fetch_mode(mode, || choices[2].question(&mut conn).map(|_| ()).unwrap_err());
            assert!(matches!(err, OrmError::RelatedMissing { .. }), "{err}");
        }
        let err = with_fetch_mode(FetchMode::Raise, || choices[2].question(&mut conn).map(|_| ()).unwrap_err());
        assert!(matches!(err, OrmError::RelatedMissing { .. }), "a known-missing value never consults the mode: {err}");
        Ok(())
    }

    fn a_changed_owner_key_never_costs_a_wasted_batch(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut questions = Question::objects().load(&mut conn)?;
        // Copy the first question: its slot's peer binding is now stale.
        questions[0].id = None;
        questions[0].save(&mut conn)?;
        let rows = assert_num_queries(&mut conn, 1, |c| questions[0].choices().all(c))?;
        assert!(rows.is_empty());
        // The other peers still batch together.
        assert_num_queries(&mut conn, 1, |c| questions[1].choices().all(c).map(|_| ()))?;
        assert_num_queries(&mut conn, 0, |c| questions[2].choices().all(c).map(|_| ()))?;
        Ok(())
    }

    fn a_batch_leaves_alone_a_peer_whose_key_changed(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut tag = Tag { name: "t".into(), ..Default::default() };
        tag.save(&mut conn)?;
        let mut questions = Question::objects().load(&mut conn)?;
        // The first question becomes a new row whose tags a write cached.
        questions[0].id = None;
        questions[0].save(&mut conn)?;
        questions[0].tags().set(&mut conn, std::slice::from_ref(&tag))?;
        // A peer's batch loads the others, and leaves that cache as it is.
        assert_num_queries(&mut conn, 1, |c| questions[1].tags().all(c).map(|_| ()))?;
        let names = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>(questions[0].tags().all(c)?.iter().map(|t| t.name.clone()).collect::<Vec<_>>())
        })?;
        assert_eq!(names, ["t"]);
        assert_num_queries(&mut conn, 0, |c| questions[2].tags().all(c).map(|_| ()))?;
        Ok(())
    }
}
