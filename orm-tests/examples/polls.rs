//! The polls app: authors, questions, choices and tags, on the embedded
//! SQLite default (or the URL given as the first argument). Every step
//! prints what it did and how many queries it cost.
//!
//! ```sh
//! cargo run -p orm-tests --example polls
//! cargo run -p orm-tests --example polls -- postgres://postgres@127.0.0.1/test
//! ```

use chrono::{NaiveDate, NaiveDateTime};
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection, OrmError};
use orm_forms::ModelForm;
use orm_migrations::{migrate_source, Target};
use orm_tests::polls::*;

/// Runs one step, printing its description and query count.
fn step<R>(
    conn: &mut AnyConnection,
    what: &str,
    f: impl FnOnce(&mut AnyConnection) -> orm_core::Result<R>,
) -> orm_core::Result<R> {
    let (result, log) = capture_queries(conn, f);
    let result = result?;
    println!(
        "{:>3} {} {what}",
        log.count(),
        if log.count() == 1 {
            "query: "
        } else {
            "queries:"
        }
    );
    Ok(result)
}

fn day(day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, day)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".into());
    let db = Db::connect(&url)?;
    let mut conn = db.get()?;
    println!("Connected to {} ({url}).\n", db.backend());
    let migrations = MIGRATIONS.for_backend(db.backend());
    if url != "sqlite::memory:" {
        // A clean start: revert what an earlier run applied.
        migrate_source(&mut conn, migrations, &Target::Zero)?;
        orm_core::schema::drop_all(&mut conn, &models())?;
    }
    let applied = MIGRATIONS.run(&mut conn)?;
    println!(
        "  - applied {} migration(s): the tables of the polls app",
        applied.len()
    );

    println!("\n-- Writing");
    let mut authors: Vec<Author> = ["Ada", "Grace", "Linus"]
        .iter()
        .map(|n| Author {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    step(&mut conn, "bulk_create 3 authors (keys filled in)", |c| {
        Author::objects().bulk_create(c, &mut authors)
    })?;
    let mut questions: Vec<Question> = (1..=6)
        .map(|i| {
            let mut q = Question {
                question_text: format!("Question {i}?"),
                pub_date: day(i),
                ..Default::default()
            };
            q.author.set_key(authors[i as usize % 3].id);
            q
        })
        .collect();
    step(&mut conn, "bulk_create 6 questions", |c| {
        Question::objects().bulk_create(c, &mut questions)
    })?;
    let mut choices: Vec<Choice> = questions
        .iter()
        .flat_map(|q| {
            (0..3).map(move |v| {
                let mut c = Choice {
                    choice_text: format!("{} #{v}", q.question_text),
                    votes: v,
                    ..Default::default()
                };
                c.question.set_key(q.id);
                c
            })
        })
        .collect();
    step(&mut conn, "bulk_create 18 choices", |c| {
        Choice::objects().bulk_create(c, &mut choices)
    })?;
    let mut tags: Vec<Tag> = ["rust", "databases", "django"]
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    step(&mut conn, "bulk_create 3 tags", |c| {
        Tag::objects().bulk_create(c, &mut tags)
    })?;

    println!("\n-- Querysets");
    let latest = step(
        &mut conn,
        "the latest question (default ordering -pub_date)",
        |c| Question::objects().first(c),
    )?;
    println!("      -> {:?}", latest.as_ref().map(|q| &q.question_text));
    let popular = step(&mut conn, "count choices with at least one vote", |c| {
        Choice::objects().filter(choice::votes.ge(1)).count(c)
    })?;
    println!("      -> {popular}");
    step(
        &mut conn,
        "give every choice of question 1 a vote (one UPDATE)",
        |c| {
            Choice::objects()
                .filter(choice::question_id.eq(questions[0].id.unwrap_or_default()))
                .update(c, choice::votes.eq(choice::votes + 1))
        },
    )?;

    println!("\n-- Fetch modes: touching a relation in a loop");
    let loaded = step(&mut conn, "load the 18 choices", |c| {
        Choice::objects().load(c)
    })?;
    step(
        &mut conn,
        "choice.question(..).author(..) for all 18 (PEERS: one query per hop)",
        |c| {
            loaded
                .iter()
                .try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
        },
    )?;
    let lazy = Choice::objects()
        .fetch_mode(FetchMode::One)
        .load(&mut conn)?;
    step(
        &mut conn,
        "the same loop under ONE (lazy loading: the N+1)",
        |c| {
            lazy.iter()
                .try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
        },
    )?;
    let joined = step(
        &mut conn,
        "load them with select_related(QUESTION.then(AUTHOR)): one query, two joins",
        |c| {
            Choice::objects()
                .select_related(Choice::QUESTION.then(Question::AUTHOR))
                .load(c)
        },
    )?;
    step(&mut conn, "the same loop over the joined choices", |c| {
        joined
            .iter()
            .try_for_each(|ch| ch.question(c)?.author(c).map(|_| ()))
    })?;
    let strict = Choice::objects().load(&mut conn)?;
    let blocked = with_fetch_mode(FetchMode::Raise, || {
        strict[0].question(&mut conn).map(|_| ())
    });
    if let Err(e @ OrmError::FetchBlocked { .. }) = blocked {
        println!("  0 queries: under RAISE a lazy load is an error: {e}");
    }

    println!("\n-- Managers cached in the instance");
    let qs = step(
        &mut conn,
        "questions with their choices (prefetch_related)",
        |c| {
            Question::objects()
                .prefetch_related(Question::CHOICES)
                .load(c)
        },
    )?;
    let total = step(
        &mut conn,
        "sum the votes of every question's choices",
        |c| {
            qs.iter()
                .map(|q| Ok(q.choices().all(c)?.iter().map(|ch| ch.votes).sum::<i32>()))
                .sum::<orm_core::Result<i32>>()
        },
    )?;
    println!("      -> {total} votes");

    println!("\n-- Many-to-many writes keep the cache filled");
    let first = &qs[0];
    step(
        &mut conn,
        "tag the first question: set([rust, django])",
        |c| first.tags().set(c, &[tags[0].clone(), tags[2].clone()]),
    )?;
    let names = step(&mut conn, "read its tags back (ordering: name)", |c| {
        first.tags().all(c)
    })?;
    println!(
        "      -> {:?}",
        names.iter().map(|t| &t.name).collect::<Vec<_>>()
    );

    println!("\n-- A form-style save");
    let body = format!(
        "question_text=Who+wrote+this%3F&pub_date=2026-01-09+09%3A00&author={}&tags={}&tags={}",
        authors[0].id.unwrap_or_default(),
        tags[0].id.unwrap_or_default(),
        tags[1].id.unwrap_or_default()
    );
    let saved = step(
        &mut conn,
        "validate and save a question form with two tags",
        |c| ModelForm::<Question>::new().bind_urlencoded(&body).save(c),
    )?;
    step(
        &mut conn,
        "render it: its author and tags come from the cache",
        |c| {
            let author = saved.author(c)?.map(|a| a.name.clone());
            let tags = saved.tags().all(c)?;
            println!(
                "      -> by {:?}, tagged {:?}",
                author,
                tags.iter().map(|t| &t.name).collect::<Vec<_>>()
            );
            Ok(())
        },
    )?;
    let mut bad = ModelForm::<Question>::new().bind_urlencoded("question_text=&tags=999");
    step(&mut conn, "validate a bad form", |c| bad.is_valid(c))?;
    for (field, messages) in bad.errors() {
        println!("      -> {field}: {}", messages.join(" "));
    }

    println!("\n-- Cleaning up");
    let removed = step(
        &mut conn,
        "delete the questions of the first week (choices cascade)",
        |c| {
            Question::objects()
                .filter(question::pub_date.lt(day(8)))
                .delete(c)
        },
    )?;
    println!("      -> {removed} questions");
    let left = step(&mut conn, "choices left", |c| Choice::objects().count(c))?;
    println!("      -> {left}");
    if url != "sqlite::memory:" {
        let reverted = migrate_source(&mut conn, migrations, &Target::Zero)?;
        println!(
            "  - reverted {} migration(s): the tables are gone",
            reverted.len()
        );
    }
    Ok(())
}
