//! The polls app: authors, questions and choices, from creating the tables
//! to deleting rows, printing what each step does and how many queries it
//! cost.
//!
//! ```text
//! cargo run -p orm-tests --example polls                      # embedded SQLite, in memory
//! cargo run -p orm-tests --example polls -- postgres://postgres@127.0.0.1:5432/test
//! cargo run -p orm-tests --features mysql --example polls -- mysql://root@127.0.0.1:3306/test
//! ```
//!
//! On a server database the example drops and recreates the tables
//! `author`, `polls_question` and `polls_choice`.

use chrono::{NaiveDate, NaiveDateTime};
use orm_core::prelude::*;
use orm_core::{capture_queries, schema, AnyConnection};

/// Someone who asks questions.
#[derive(Model, Debug, Clone, Default)]
#[orm(ordering = "name")]
pub struct Author {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 100)]
    pub name: String,
    pub email: Option<String>,
}

/// A poll question. `author_id` is a plain column for now; it becomes a
/// `ForeignKey<Author>` once relations land.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "polls_question", ordering = "-pub_date, id")]
pub struct Question {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(column = "text", max_length = 200)]
    pub question_text: String,
    #[orm(index)]
    pub pub_date: NaiveDateTime,
    #[orm(index)]
    pub author_id: i64,
}

/// One answer to a question. `question_id` is a plain column for now; it
/// becomes a `ForeignKey<Question>` once relations land.
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "polls_choice", ordering = "-votes, id")]
pub struct Choice {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(index)]
    pub question_id: i64,
    #[orm(max_length = 200)]
    pub choice_text: String,
    pub votes: i32,
}

/// Noon on 2026-01-`day`.
fn day(day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, day)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("a valid date in January 2026")
}

/// The key a saved row was given; an error (not a panic) if it has none.
fn key_of<M: Model>(row: &M) -> orm_core::Result<M::Key> {
    row.pk().ok_or(OrmError::Unsaved {
        model: M::meta().name,
    })
}

/// Runs one step, printing what it did, how many queries it cost and the
/// SQL it sent.
fn step<R>(
    conn: &mut AnyConnection,
    what: &str,
    f: impl FnOnce(&mut AnyConnection) -> orm_core::Result<R>,
) -> orm_core::Result<R> {
    let (result, log) = capture_queries(conn, f);
    let n = log.count();
    println!(
        "\n{what}  [{n} {}]",
        if n == 1 { "query" } else { "queries" }
    );
    for sql in log.queries() {
        let sql = sql.split(" -- binds:").next().unwrap_or(sql);
        let shown: String = sql.chars().take(110).collect();
        let more = if shown.len() < sql.len() { " ..." } else { "" };
        println!("    {shown}{more}");
    }
    result
}

fn main() -> orm_core::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    let db = Db::connect(&url)?;
    let mut conn = db.get()?;
    println!("connected to {} ({url})", db.backend());

    let models = [Author::meta(), Question::meta(), Choice::meta()];
    step(&mut conn, "drop the tables if they exist", |c| {
        schema::drop_tables(c, &models)
    })?;
    step(&mut conn, "create the tables", |c| {
        schema::create_tables(c, &models)
    })?;

    // --- Saving -----------------------------------------------------------
    let mut ada = Author {
        name: "Ada".into(),
        email: Some("ada@example.com".into()),
        ..Default::default()
    };
    step(
        &mut conn,
        "save() a new author: INSERT, the auto key is filled in (+ SELECT LAST_INSERT_ID() on MySQL)",
        |c| ada.save(c),
    )?;
    let ada_id = key_of(&ada)?;
    println!("    -> Ada has id {ada_id}");

    let mut grace = Author {
        name: "Grace".into(),
        ..Default::default()
    };
    grace.save(&mut conn)?;
    grace.email = Some("grace@example.com".into());
    step(
        &mut conn,
        "save() an author that has a key: UPDATE of every column",
        |c| grace.save(c),
    )?;
    let grace_id = key_of(&grace)?;

    let mut questions = vec![
        Question {
            question_text: "What's new?".into(),
            pub_date: day(1),
            author_id: ada_id,
            ..Default::default()
        },
        Question {
            question_text: "Tabs or spaces?".into(),
            pub_date: day(5),
            author_id: grace_id,
            ..Default::default()
        },
        Question {
            question_text: "Best season?".into(),
            pub_date: day(9),
            author_id: ada_id,
            ..Default::default()
        },
    ];
    step(
        &mut conn,
        "bulk_create() 3 questions: one multi-row INSERT in a transaction",
        |c| Question::objects().bulk_create(c, &mut questions),
    )?;
    let ids: Vec<i64> = questions.iter().filter_map(|q| q.id).collect();
    println!("    -> their ids: {ids:?}");

    let mut choices = Vec::new();
    for question in &questions {
        let question_id = key_of(question)?;
        let answers: &[(&str, i32)] = match question.question_text.as_str() {
            "What's new?" => &[("Not much", 2), ("The sky", 0)],
            "Tabs or spaces?" => &[("Tabs", 4), ("Spaces", 7), ("Both", 1)],
            _ => &[("Spring", 3), ("Autumn", 3)],
        };
        for &(text, votes) in answers {
            choices.push(Choice {
                question_id,
                choice_text: text.into(),
                votes,
                ..Default::default()
            });
        }
    }
    step(
        &mut conn,
        &format!("bulk_create() {} choices", choices.len()),
        |c| Choice::objects().bulk_create(c, &mut choices),
    )?;

    // --- Querying ---------------------------------------------------------
    let all = step(
        &mut conn,
        "load() every question, in the model's ordering \"-pub_date, id\"",
        |c| Question::objects().load(c),
    )?;
    for q in &all {
        println!("    -> {} ({})", q.question_text, q.pub_date.date());
    }

    let recent = Question::objects().filter(question::pub_date.ge(day(5)));
    let n = step(&mut conn, "count() questions published since Jan 5", |c| {
        recent.count(c)
    })?;
    println!("    -> {n}");

    let by_ada = step(
        &mut conn,
        "filter() by author, exclude() one text, order_by() text",
        |c| {
            Question::objects()
                .filter(question::author_id.eq(ada_id))
                .exclude(question::question_text.eq("What's new?"))
                .order_by(question::question_text.asc())
                .load(c)
        },
    )?;
    for q in &by_ada {
        println!("    -> {}", q.question_text);
    }

    let any_old = step(&mut conn, "exists() a question before Jan 2?", |c| {
        Question::objects()
            .filter(question::pub_date.lt(day(2)))
            .exists(c)
    })?;
    println!("    -> {any_old}");

    let tabs = key_of(&questions[1])?;
    let winner = step(
        &mut conn,
        "first() choice of \"Tabs or spaces?\" (ordering \"-votes, id\")",
        |c| {
            Choice::objects()
                .filter(choice::question_id.eq(tabs))
                .first(c)
        },
    )?;
    match &winner {
        Some(choice) => println!("    -> {} with {} votes", choice.choice_text, choice.votes),
        None => println!("    -> no choices"),
    }

    let question = step(&mut conn, "Question::get() by primary key", |c| {
        Question::get(c, tabs)
    })?;
    println!("    -> {}", question.question_text);

    let grace_again = step(
        &mut conn,
        "objects().filter(..).get(): exactly one row",
        |c| Author::objects().filter(author::name.eq("Grace")).get(c),
    )?;
    println!("    -> {:?}", grace_again.email);

    match step(&mut conn, "Question::get() of a missing key", |c| {
        Question::get(c, -1)
    }) {
        Err(e) if e.is_not_found() => println!("    -> not found: {e}"),
        Err(e) => return Err(e),
        Ok(q) => println!("    -> unexpectedly found {q:?}"),
    }

    let page = step(
        &mut conn,
        "limit(2).offset(1): the 2nd and 3rd choice by votes",
        |c| Choice::objects().limit(2).offset(1).load(c),
    )?;
    for choice in &page {
        println!("    -> {} ({})", choice.choice_text, choice.votes);
    }

    // --- Updating ---------------------------------------------------------
    let updated = step(
        &mut conn,
        "update(): one vote more for every choice of \"Best season?\"",
        |c| {
            let season = key_of(&questions[2])?;
            Choice::objects()
                .filter(choice::question_id.eq(season))
                .update(c, choice::votes.eq(choice::votes + 1))
        },
    )?;
    println!("    -> {updated} rows updated");

    match Choice::objects()
        .limit(1)
        .update(&mut conn, choice::votes.eq(0))
    {
        Err(OrmError::InvalidQuery { reason, .. }) => {
            println!("\na sliced queryset refuses update() (no query runs):\n    -> {reason}")
        }
        Err(e) => return Err(e),
        Ok(n) => println!("\nunexpectedly updated {n} rows of a sliced queryset"),
    }

    let mut question = question;
    question.question_text = "Tabs or spaces, really?".into();
    step(&mut conn, "save() the renamed question", |c| {
        question.save(c)
    })?;

    let mut stale = questions[1].clone();
    step(&mut conn, "refresh_from_db() an outdated copy", |c| {
        stale.refresh_from_db(c)
    })?;
    println!("    -> {}", stale.question_text);

    // --- Deleting ---------------------------------------------------------
    let deleted = step(
        &mut conn,
        "delete() the choices with no votes, in one statement",
        |c| Choice::objects().filter(choice::votes.eq(0)).delete(c),
    )?;
    println!("    -> {deleted} deleted");

    let mut first = questions[0].clone();
    let removed = step(&mut conn, "delete() one question by its key", |c| {
        first.delete(c)
    })?;
    println!(
        "    -> {removed} deleted; its key is now {:?}, so a later save() inserts it again",
        first.id
    );
    let orphans = step(
        &mut conn,
        "delete() its choices (no ForeignKey cascade until relations land)",
        |c| {
            let gone = key_of(&questions[0])?;
            Choice::objects()
                .filter(choice::question_id.eq(gone))
                .delete(c)
        },
    )?;
    println!("    -> {orphans} deleted");

    let (questions_left, choices_left) = step(&mut conn, "count() what is left", |c| {
        Ok((Question::objects().count(c)?, Choice::objects().count(c)?))
    })?;
    println!("    -> {questions_left} questions, {choices_left} choices");

    if !matches!(
        orm_core::DatabaseUrl::parse(&url)?,
        orm_core::DatabaseUrl::SqliteMemory
    ) {
        step(
            &mut conn,
            "drop the tables again (a server database keeps them otherwise)",
            |c| schema::drop_tables(c, &models),
        )?;
    }
    Ok(())
}
