//! The polls app of the guide: questions, choices, authors.

use chrono::NaiveDateTime;
use orm_core::prelude::*;

/// An author of questions.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "name")]
pub struct Author {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 100)]
    pub name: String,
    pub email: Option<String>,
}

/// A poll question.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "polls_question", ordering = "-pub_date, id")]
pub struct Question {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(column = "text", max_length = 200)]
    pub question_text: String,
    #[orm(index)]
    pub pub_date: NaiveDateTime,
}

/// Every supported field type, for round-trip tests.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Everything {
    #[orm(primary_key)]
    pub id: Option<i32>,
    pub small: i16,
    pub int: i32,
    pub big: i64,
    pub float: f32,
    pub double: f64,
    pub flag: bool,
    pub text: String,
    pub bytes: Vec<u8>,
    pub day: chrono::NaiveDate,
    pub time: chrono::NaiveTime,
    pub moment: NaiveDateTime,
    pub maybe_small: Option<i16>,
    pub maybe_int: Option<i32>,
    pub maybe_big: Option<i64>,
    pub maybe_float: Option<f32>,
    pub maybe_double: Option<f64>,
    pub maybe_flag: Option<bool>,
    pub maybe_text: Option<String>,
    pub maybe_bytes: Option<Vec<u8>>,
    pub maybe_day: Option<chrono::NaiveDate>,
    pub maybe_time: Option<chrono::NaiveTime>,
    pub maybe_moment: Option<NaiveDateTime>,
    #[orm(skip)]
    pub scratch: u64,
}

/// A model whose table name is an SQL keyword.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Order {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(column = "group")]
    pub group_name: String,
}

/// A model with a key the user sets.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Group {
    #[orm(primary_key, max_length = 50)]
    pub name: String,
    pub size: i32,
}
