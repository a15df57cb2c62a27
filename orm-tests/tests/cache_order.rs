//! Rows a write leaves in a relation cache are in the order a fresh query
//! returns them, text collation included (PostgreSQL and MariaDB sort
//! text by locale, not by bytes as Rust does), and enums stored as text
//! (the database sorts their text, not their declaration order).

use chrono::NaiveDate;
use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema, AnyConnection};
use orm_tests::backend_tests;
use orm_tests::polls::*;
use std::borrow::Borrow;

/// Names whose byte order differs from a locale's: case and accents.
const NAMES: [&str; 6] = ["b", "C", "a", "é", "Z", "f"];

fn setup(conn: &mut AnyConnection) -> orm_core::Result<(Question, Vec<Tag>)> {
    create_all(conn)?;
    let mut author = Author {
        name: "Ada".into(),
        ..Default::default()
    };
    author.save(conn)?;
    let mut q = Question {
        question_text: "Order?".into(),
        pub_date: NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        ..Default::default()
    };
    q.set_author(author);
    q.save(conn)?;
    let mut tags: Vec<Tag> = NAMES
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut tags)?;
    Ok((q, tags))
}

fn names(tags: &[impl Borrow<Tag>]) -> Vec<String> {
    tags.iter().map(|t| t.borrow().name.clone()).collect()
}

/// Declared in an order its stored texts do not sort in ("doing" <
/// "done" < "todo"); `PartialOrd` would sort by declaration.
#[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub enum Stage {
    #[default]
    Todo,
    Doing,
    Done,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "co_board")]
pub struct Board {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(reverse_of = "board")]
    pub cards: Related<Card>,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "co_card", ordering = "stage, id")]
pub struct Card {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(null, on_delete = "set_null")]
    pub board: ForeignKey<Board>,
    #[orm(choices)]
    pub stage: Stage,
}

backend_tests! {
    fn rows_ordered_by_a_text_enum_keep_the_database_order(db) {
        let mut conn = db.get()?;
        schema::create_table::<Board>(&mut conn)?;
        schema::create_table::<Card>(&mut conn)?;
        let mut board = Board::default();
        board.save(&mut conn)?;
        let mut cards: Vec<Card> = [Stage::Todo, Stage::Doing, Stage::Done]
            .into_iter()
            .map(|stage| Card { stage, ..Default::default() })
            .collect();
        for card in &mut cards {
            card.save(&mut conn)?;
        }
        board.cards().set(&mut conn, &mut cards)?;
        let cached = assert_num_queries(&mut conn, 0, |c| board.cards().all(c))?;
        let stages: Vec<Stage> = cached.iter().map(|c| c.stage).collect();
        assert_eq!(stages, [Stage::Doing, Stage::Done, Stage::Todo]);
        let fresh: Vec<Stage> = Card::objects().load(&mut conn)?.iter().map(|c| c.stage).collect();
        assert_eq!(fresh, stages);
        Ok(())
    }


    fn set_then_all_lists_rows_in_the_database_order(db) {
        let mut conn = db.get()?;
        let (q, tags) = setup(&mut conn)?;
        let fresh = names(&Tag::objects().load(&mut conn)?);
        q.tags().set(&mut conn, &tags)?;
        let cached = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?;
        assert_eq!(names(&cached), fresh);
        Ok(())
    }

    fn add_and_create_keep_the_database_order(db) {
        let mut conn = db.get()?;
        let (q, tags) = setup(&mut conn)?;
        q.tags().set(&mut conn, &tags[..2])?;
        q.tags().add(&mut conn, &tags[2..])?;
        q.tags().create(&mut conn, Tag { name: "D".into(), ..Default::default() })?;
        let cached = assert_num_queries(&mut conn, 0, |c| q.tags().all(c))?;
        let fresh = names(&Tag::objects().load(&mut conn)?);
        assert_eq!(names(&cached), fresh);
        Ok(())
    }
}
