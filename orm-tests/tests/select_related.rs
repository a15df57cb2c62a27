//! select_related: chains of to-one relations loaded with their rows in
//! one query (LEFT OUTER JOINs), with filters, orderings and slices, on
//! every backend.

use diesel::connection::SimpleConnection;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, capture_queries, AnyConnection, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// An employee and their boss: a key to its own table, joined twice.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "staff", ordering = "name")]
pub struct Employee {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 50)]
    pub name: String,
    #[orm(null, on_delete = "set_null")]
    pub boss: ForeignKey<Employee>,
}

/// Holds an `Everything`: every column type decoded at an offset in a joined row.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Holder {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub everything: ForeignKey<Everything, i32>,
}

const N: usize = 4;

/// N authors with one question each (the last has no author), two
/// choices per question, one vote per choice (every other one with a voter).
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let mut ann = User {
        username: "ann".into(),
        ..Default::default()
    };
    ann.save(conn)?;
    for i in 0..N {
        let mut q = Question {
            question_text: format!("q{i}"),
            ..Default::default()
        };
        if i + 1 < N {
            let mut author = Author {
                name: format!("author {i}"),
                ..Default::default()
            };
            author.save(conn)?;
            q.author.set(author);
        }
        q.save(conn)?;
        for votes in [1, 7] {
            let mut c = Choice {
                choice_text: format!("q{i} {votes}"),
                votes,
                ..Default::default()
            };
            c.question.set_key(q.id);
            c.save(conn)?;
            let mut v = Vote::default();
            v.choice.set_key(c.id);
            if votes == 7 {
                v.voter.set(ann.clone());
            }
            v.save(conn)?;
        }
    }
    Ok(())
}

fn joins_in(sql: &str) -> usize {
    sql.matches("LEFT OUTER JOIN").count()
}

/// Runs `sql` with foreign-key checks off, to store keys that point nowhere.
fn without_fk_checks(conn: &mut AnyConnection, sql: &str) -> orm_core::Result<()> {
    let (off, on) = match conn.backend() {
        BackendKind::Sqlite => ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"),
        BackendKind::Postgres => (
            "SET session_replication_role = replica",
            "SET session_replication_role = DEFAULT",
        ),
        BackendKind::Mysql => ("SET FOREIGN_KEY_CHECKS = 0", "SET FOREIGN_KEY_CHECKS = 1"),
    };
    conn.batch_execute(off)?;
    let result = conn.batch_execute(sql);
    conn.batch_execute(on)?;
    Ok(result?)
}

backend_tests! {
    fn a_chain_of_three_hops_is_one_query(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let path = Vote::CHOICE.then(Choice::QUESTION.then(Question::AUTHOR));
        let (votes, log) = capture_queries(&mut conn, |c| Vote::objects().select_related(path).load(c));
        let votes = votes?;
        assert_eq!(log.queries().len(), 1, "{:?}", log.queries());
        assert_eq!(joins_in(log.queries()[0]), 3);
        assert_eq!(votes.len(), 2 * N);
        // Everything is cached: not even RAISE (Vote.choice's own mode) is consulted.
        let authors = with_fetch_mode(FetchMode::Raise, || {
            assert_num_queries(&mut conn, 0, |c| {
                votes
                    .iter()
                    .map(|v| Ok(v.choice(c)?.question(c)?.author(c)?.map(|a| a.name.clone())))
                    .collect::<orm_core::Result<Vec<_>>>()
            })
        })?;
        // The question without an author joins to nothing: None, no query.
        assert_eq!(authors.iter().filter(|a| a.is_none()).count(), 2);
        assert_eq!(authors.iter().flatten().count(), 2 * (N - 1));
        // Each vote got its own choice, and each choice its own question.
        for v in &votes {
            let choice = v.choice.cached().ok_or(OrmError::NotFound { model: "Choice" })?;
            assert_eq!(v.choice.key(), choice.id.as_ref());
            let question = choice.question.cached().ok_or(OrmError::NotFound { model: "Question" })?;
            assert_eq!(choice.question.key(), question.id.as_ref());
            assert!(choice.choice_text.starts_with(&question.question_text));
        }
        Ok(())
    }

    fn several_paths_share_their_hops_in_one_query(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let (votes, log) = capture_queries(&mut conn, |c| {
            Vote::objects()
                .select_related(Vote::CHOICE)
                .select_related(Vote::VOTER)
                .select_related(Vote::CHOICE.then(Choice::QUESTION))
                .select_related(Vote::CHOICE.then(Choice::QUESTION.then(Question::AUTHOR)))
                .load(c)
        });
        let votes = votes?;
        assert_eq!(log.queries().len(), 1);
        // choice, question, author and voter: each joined once.
        assert_eq!(joins_in(log.queries()[0]), 4, "{}", log.queries()[0]);
        let voters = assert_num_queries(&mut conn, 0, |c| {
            votes.iter().map(|v| Ok(v.voter(c)?.map(|u| u.username.clone()))).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(voters.iter().flatten().filter(|n| *n == "ann").count(), N);
        assert_eq!(voters.iter().filter(|n| n.is_none()).count(), N);
        // Rows sharing a target share one object.
        let anns: Vec<&User> = votes.iter().filter_map(|v| v.voter.cached()).collect();
        assert!(anns.windows(2).all(|w| std::ptr::eq(w[0], w[1])));
        Ok(())
    }

    fn filters_orderings_and_slices_match_a_plain_load(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // (queryset, whether its ordering is total)
        let queries = [
            (Choice::objects(), true),
            (Choice::objects().filter(choice::votes.gt(1)), true),
            (Choice::objects().order_by(choice::id.desc()).limit(3).offset(2), true),
            (
                Choice::objects()
                    .exclude(choice::choice_text.like("q0%"))
                    .order_by((choice::votes.asc(), choice::id.desc())),
                true,
            ),
            (Choice::objects().then_order_by(choice::choice_text.desc()).offset(5), true),
            (Choice::objects().unordered().filter(choice::id.le(3)).limit(10), false),
        ];
        for (qs, total) in queries {
            let mut plain: Vec<Option<i64>> = qs.load(&mut conn)?.into_iter().map(|c| c.id).collect();
            let joined = assert_num_queries(&mut conn, 1, |c| qs.clone().select_related(Choice::QUESTION).load(c))?;
            let mut ids: Vec<Option<i64>> = joined.iter().map(|c| c.id).collect();
            assert!(!ids.is_empty());
            if !total {
                ids.sort();
                plain.sort();
            }
            assert_eq!(ids, plain, "{qs:?}");
            assert!(joined.iter().all(|c| c.question.is_loaded()));
        }
        // A nullable ordering column: NULLs first, as in a plain load.
        let mut person = Person { name: "p".into(), ..Default::default() };
        person.save(&mut conn)?;
        for (name, age) in [("rex", Some(3)), ("tom", None), ("ada", Some(9)), ("bob", None)] {
            let mut pet = Pet { name: name.into(), age, ..Default::default() };
            pet.owner.set_key(person.id);
            pet.save(&mut conn)?;
        }
        let plain: Vec<String> = Pet::objects().load(&mut conn)?.into_iter().map(|p| p.name).collect();
        let joined: Vec<String> = Pet::objects().select_related(Pet::OWNER).load(&mut conn)?.into_iter().map(|p| p.name).collect();
        assert_eq!(plain, ["ada", "rex", "bob", "tom"]);
        assert_eq!(joined, plain);
        Ok(())
    }

    fn get_first_and_iter_join_too(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let qs = Choice::objects().select_related(Choice::QUESTION.then(Question::AUTHOR));
        let first = assert_num_queries(&mut conn, 1, |c| qs.first(c))?.ok_or(OrmError::NotFound { model: "Choice" })?;
        assert_eq!(first.votes, 7);
        let one = assert_num_queries(&mut conn, 1, |c| qs.clone().filter(choice::id.eq(first.id.unwrap_or_default())).get(c))?;
        let err = assert_num_queries(&mut conn, 1, |c| qs.get(c).map(|_| ()).unwrap_err());
        assert!(matches!(err, OrmError::MultipleFound { .. }), "{err}");
        let names = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>((first.question(c)?.author(c)?.map(|a| a.name.clone()), one.question(c)?.question_text.clone()))
        })?;
        assert_eq!(names.0, Some("author 0".to_string()));
        assert_eq!(names.1, "q0");
        // 2N = 8 rows in chunks of 3: 3 joined queries, nothing more to touch.
        let (rows, log) = capture_queries(&mut conn, |c| {
            qs.iter(c, 3)
                .map(|row| row.map(|ch| ch.question.cached().map(|q| q.question_text.clone())))
                .collect::<orm_core::Result<Vec<_>>>()
        });
        assert_eq!(log.queries().len(), 3);
        assert!(log.queries().iter().all(|q| joins_in(q) == 2));
        assert_eq!(rows?.iter().flatten().count(), 2 * N);
        Ok(())
    }

    fn joined_objects_are_peers_and_take_the_fetch_mode(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // The joined questions are peers: their (not joined) authors load in one query.
        let choices = Choice::objects().select_related(Choice::QUESTION).load(&mut conn)?;
        assert_num_queries(&mut conn, 1, |c| {
            choices.iter().try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
        })?;
        // ...and their choices (a reverse manager) too.
        let counts = assert_num_queries(&mut conn, 1, |c| {
            choices.iter().map(|ch| Ok(ch.question(c)?.choices().all(c)?.len())).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert!(counts.iter().all(|&n| n == 2));
        // A queryset's fetch mode reaches what it joined.
        let choices = Choice::objects().fetch_mode(FetchMode::Raise).select_related(Choice::QUESTION).load(&mut conn)?;
        let err = choices[0].question(&mut conn)?.author(&mut conn).map(|_| ()).unwrap_err();
        assert!(matches!(err, OrmError::FetchBlocked { model: "Question", field: "author" }), "{err}");
        // A prefetch after a join reuses what was joined: 1 + 1 queries.
        let choices = assert_num_queries(&mut conn, 2, |c| {
            Choice::objects()
                .select_related(Choice::QUESTION)
                .prefetch_related(Choice::QUESTION.then(Question::CHOICES))
                .load(c)
        })?;
        assert_num_queries(&mut conn, 0, |c| {
            choices.iter().try_for_each(|ch| ch.question(c)?.choices().all(c).map(|_| ()))
        })?;
        Ok(())
    }

    fn to_field_one_to_one_and_self_references(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        orm_core::schema::create_tables(&mut conn, &[Employee::meta()])?;
        // A key to a unique non-key column (Note.owner -> User.username).
        let mut note = Note { body: "hi".into(), ..Default::default() };
        note.owner.set_key(Some("ann".to_string()));
        note.save(&mut conn)?;
        let notes = assert_num_queries(&mut conn, 1, |c| Note::objects().select_related(Note::OWNER).load(c))?;
        let owner = assert_num_queries(&mut conn, 0, |c| notes[0].owner(c).map(|u| (u.id, u.username.clone())))?;
        assert_eq!(owner.1, "ann");
        assert!(owner.0.is_some());
        // A one-to-one, forward.
        let user = User::objects().get(&mut conn)?;
        let mut profile = Profile { bio: "likes SQL".into(), ..Default::default() };
        profile.user.set(user);
        profile.save(&mut conn)?;
        let profiles = assert_num_queries(&mut conn, 1, |c| Profile::objects().select_related(Profile::USER).load(c))?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| profiles[0].user(c).map(|u| u.username.clone()))?, "ann");
        // The same table joined twice under two aliases: boss, then the boss's boss.
        let mut top = Employee { name: "top".into(), ..Default::default() };
        top.save(&mut conn)?;
        let mut mid = Employee { name: "mid".into(), ..Default::default() };
        mid.boss.set(top.clone());
        mid.save(&mut conn)?;
        let mut low = Employee { name: "low".into(), ..Default::default() };
        low.boss.set(mid.clone());
        low.save(&mut conn)?;
        let (staff, log) = capture_queries(&mut conn, |c| {
            Employee::objects()
                .filter(employee::name.ne("top"))
                .select_related(Employee::BOSS.then(Employee::BOSS))
                .load(c)
        });
        let staff = staff?;
        assert_eq!(log.queries().len(), 1);
        assert_eq!(joins_in(log.queries()[0]), 2);
        let chains = assert_num_queries(&mut conn, 0, |c| {
            staff
                .iter()
                .map(|e| {
                    let boss = e.boss(c)?.map(|b| b.name.clone());
                    let grand = match e.boss(c)? {
                        Some(b) => b.boss(c)?.map(|g| g.name.clone()),
                        None => None,
                    };
                    Ok((e.name.clone(), boss, grand))
                })
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(chains, [
            ("low".to_string(), Some("mid".to_string()), Some("top".to_string())),
            ("mid".to_string(), Some("top".to_string()), None),
        ]);
        Ok(())
    }

    fn a_dangling_key_is_missing_without_a_query(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let table = Choice::meta().table;
        without_fk_checks(
            &mut conn,
            &format!("INSERT INTO {table} (question_id, choice_text, votes) VALUES (99999, 'orphan', 100)"),
        )?;
        let choices = Choice::objects().select_related(Choice::QUESTION).load(&mut conn)?;
        let orphan = &choices[0];
        assert_eq!(orphan.choice_text, "orphan");
        for _ in 0..2 {
            let err = assert_num_queries(&mut conn, 0, |c| orphan.question(c).map(|_| ()).unwrap_err());
            assert!(matches!(err, OrmError::RelatedMissing { model: "Choice", field: "question", .. }), "{err}");
        }
        // The other rows are unaffected.
        assert_num_queries(&mut conn, 0, |c| choices[1..].iter().try_for_each(|ch| ch.question(c).map(|_| ())))?;
        Ok(())
    }

    fn text_keys_a_dangling_second_hop_and_deep_fetch_modes(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Text keys on both sides (Membership.user -> User.username, .group -> Group.name),
        // and first() on a model without ordering: ordered by key.
        let mut admins = Group { name: "admins".into(), size: 1 };
        admins.insert(&mut conn)?;
        let mut users = Group { name: "users".into(), size: 2 };
        users.insert(&mut conn)?;
        for group in ["users", "admins"] {
            let mut m = Membership::default();
            m.user.set_key(Some("ann".to_string()));
            m.group.set_key(Some(group.to_string()));
            m.save(&mut conn)?;
        }
        let qs = Membership::objects().select_related(Membership::GROUP).select_related(Membership::USER);
        assert_eq!(format!("{qs:?}").matches("group").count(), 1, "{qs:?}");
        let first = assert_num_queries(&mut conn, 1, |c| qs.first(c))?.ok_or(OrmError::NotFound { model: "Membership" })?;
        let (group, user) = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>((first.group(c)?.name.clone(), first.user(c)?.username.clone()))
        })?;
        assert_eq!((group.as_str(), user.as_str()), ("users", "ann"));
        // A key gone at the second hop: the question joins, its author is missing.
        let table = Question::meta().table;
        without_fk_checks(&mut conn, &format!("UPDATE {table} SET author_id = 99999 WHERE text = 'q0'"))?;
        let path = Choice::QUESTION.then(Question::AUTHOR);
        let (choices, log) = capture_queries(&mut conn, |c| {
            Choice::objects().filter(choice::choice_text.like("q0%")).select_related(path).load(c)
        });
        let choices = choices?;
        assert_eq!((log.count(), choices.len()), (1, 2));
        let err = assert_num_queries(&mut conn, 0, |c| choices[0].question(c).and_then(|q| q.author(c).map(|_| ())).unwrap_err());
        assert!(matches!(err, OrmError::RelatedMissing { model: "Question", field: "author", .. }), "{err}");
        // A queryset's fetch mode reaches the second hop.
        let votes = Vote::objects()
            .fetch_mode(FetchMode::Raise)
            .select_related(Vote::CHOICE.then(Choice::QUESTION))
            .load(&mut conn)?;
        let question = assert_num_queries(&mut conn, 0, |c| votes[0].choice(c)?.question(c).map(|q| q.fetch_mode()))?;
        assert_eq!(question, Some(FetchMode::Raise));
        let err = votes[0].choice(&mut conn)?.question(&mut conn)?.author(&mut conn).map(|_| ()).unwrap_err();
        assert!(matches!(err, OrmError::FetchBlocked { model: "Question", field: "author" }), "{err}");
        Ok(())
    }

    fn reverse_one_to_ones_join_too(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut bob = User { username: "bob".into(), ..Default::default() };
        bob.save(&mut conn)?;
        let ann = User::objects().filter(user::username.eq("ann")).get(&mut conn)?;
        let mut profile = Profile { bio: "likes SQL".into(), ..Default::default() };
        profile.user.set(ann);
        profile.save(&mut conn)?;
        // ann has a profile, bob none: one query, then both cached.
        let (users, log) = capture_queries(&mut conn, |c| {
            User::objects().order_by(user::username.asc()).select_related(User::PROFILE).load(c)
        });
        let users = users?;
        assert_eq!((log.count(), joins_in(log.queries()[0])), (1, 1));
        let bios = assert_num_queries(&mut conn, 0, |c| {
            users.iter().map(|u| Ok(u.profile(c)?.map(|p| p.bio.clone()))).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(bios, [Some("likes SQL".to_string()), None]);
        // Through a to_field key, then the reverse side: Note -> User -> Profile.
        let mut note = Note { body: "hi".into(), ..Default::default() };
        note.owner.set_key(Some("ann".to_string()));
        note.save(&mut conn)?;
        let notes = assert_num_queries(&mut conn, 1, |c| {
            Note::objects().select_related(Note::OWNER.then(User::PROFILE)).load(c)
        })?;
        let bio = assert_num_queries(&mut conn, 0, |c| {
            Ok::<_, OrmError>(notes[0].owner(c)?.profile(c)?.map(|p| p.bio.clone()))
        })?;
        assert_eq!(bio.as_deref(), Some("likes SQL"));
        // A second note on the same owner: the reverse hop hangs below a
        // shared forward hop, and its row is joined once.
        let mut second = Note { body: "again".into(), ..Default::default() };
        second.owner.set_key(Some("ann".to_string()));
        second.save(&mut conn)?;
        let notes = Note::objects().select_related(Note::OWNER.then(User::PROFILE)).load(&mut conn)?;
        assert_eq!(notes.len(), 2);
        let profiles = assert_num_queries(&mut conn, 0, |c| {
            notes.iter().map(|n| Ok(n.owner(c)?.profile(c)?.and_then(|p| p.id))).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(profiles, [profile.id, profile.id]);
        // A prefetch of the same relation keeps the joined rows and what
        // was joined below them: no query for them.
        let users = assert_num_queries(&mut conn, 1, |c| {
            User::objects()
                .select_related(User::PROFILE.then(Profile::USER))
                .prefetch_related(User::PROFILE.then(Profile::USER))
                .load(c)
        })?;
        assert_num_queries(&mut conn, 0, |c| {
            users.iter().try_for_each(|u| match u.profile(c)? {
                Some(p) => p.user(c).map(|_| ()),
                None => Ok(()),
            })
        })?;
        // The reverse side, then forward again; the joined rows take the queryset's mode.
        let users = assert_num_queries(&mut conn, 1, |c| {
            User::objects()
                .fetch_mode(FetchMode::Raise)
                .filter(user::username.eq("ann"))
                .select_related(User::PROFILE.then(Profile::USER))
                .load(c)
        })?;
        let (name, mode) = assert_num_queries(&mut conn, 0, |c| {
            let profile = users[0].profile(c)?.ok_or(OrmError::NotFound { model: "Profile" })?;
            Ok::<_, OrmError>((profile.user(c)?.username.clone(), profile.fetch_mode()))
        })?;
        assert_eq!((name.as_str(), mode), ("ann", Some(FetchMode::Raise)));
        // Joined reverse rows are peers: their (not joined) users load in one query.
        let mut bobs = Profile { bio: "likes Rust".into(), ..Default::default() };
        bobs.user.set_key(bob.id);
        bobs.save(&mut conn)?;
        let users = User::objects().select_related(User::PROFILE).load(&mut conn)?;
        let names = assert_num_queries(&mut conn, 1, |c| {
            let mut names = Vec::new();
            for u in &users {
                if let Some(p) = u.profile(c)? {
                    names.push(p.user(c)?.username.clone());
                }
            }
            Ok::<_, OrmError>(names)
        })?;
        assert_eq!(names.len(), 2);
        Ok(())
    }

    fn every_column_type_decodes_at_an_offset(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        orm_core::schema::create_tables(&mut conn, &[Holder::meta()])?;
        let (mut full, mut empty) = Everything::samples();
        full.save(&mut conn)?;
        empty.save(&mut conn)?;
        for e in [&full, &empty] {
            let mut h = Holder::default();
            h.everything.set(e.clone());
            h.save(&mut conn)?;
        }
        let holders = assert_num_queries(&mut conn, 1, |c| {
            Holder::objects().order_by(holder::id.asc()).select_related(Holder::EVERYTHING).load(c)
        })?;
        let loaded: Vec<Everything> = assert_num_queries(&mut conn, 0, |c| {
            holders.iter().map(|h| h.everything(c).cloned()).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(loaded, [full, empty]);
        Ok(())
    }
}
