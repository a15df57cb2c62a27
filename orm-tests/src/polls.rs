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
    /// The questions this author asked (reverse of `Question.author`).
    #[orm(reverse_of = "author")]
    pub questions: Related<Question>,
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
    /// Who asked; deleting the author keeps the question.
    #[orm(null, on_delete = "set_null")]
    pub author: ForeignKey<Author>,
    /// The choices of this question (reverse of `Choice.question`).
    #[orm(reverse_of = "question")]
    pub choices: Related<Choice>,
    /// Tags, through the generated `QuestionTags` model.
    #[orm(through_table = "polls_question_tags")]
    pub tags: ManyToMany<Tag>,
}

// The generated tables are plain diesel tables: declaring how they join
// lets hand-written diesel join them too (the benchmarks' baselines do).
diesel::joinable!(choice -> question (question_id));
diesel::joinable!(question -> author (author_id));
diesel::allow_tables_to_appear_in_same_query!(choice, question, author);

/// A tag on questions.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "name")]
pub struct Tag {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 50)]
    pub name: String,
    /// The tagged questions (reverse of `Question.tags`).
    #[orm(reverse_of = "tags")]
    pub questions: ManyToMany<Question>,
}

/// A possible answer to a question.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "-votes, id")]
pub struct Choice {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(on_delete = "cascade")]
    pub question: ForeignKey<Question>,
    #[orm(max_length = 200)]
    pub choice_text: String,
    pub votes: i32,
}

/// A vote: the model fetches lazily (ONE) and its `choice` relation
/// refuses to (RAISE), to exercise the declared fetch-mode levels.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(fetch_mode = "one", ordering = "id")]
pub struct Vote {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(fetch_mode = "raise")]
    pub choice: ForeignKey<Choice>,
    #[orm(null)]
    pub voter: ForeignKey<User>,
}

/// A user with a unique username other models can point at (`to_field`).
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct User {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 50)]
    pub username: String,
    /// Notes whose `owner` points at this user's username.
    #[orm(reverse_of = "owner")]
    pub notes: Related<Note>,
    /// The user's profile, if any (reverse of `Profile.user`).
    #[orm(reverse_of = "user")]
    pub profile: ReverseOneToOne<Profile>,
    /// Groups, through `Membership`, which points at the username.
    #[orm(through = "Membership", through_fields = "user, group")]
    pub groups: ManyToMany<Group, String>,
}

/// A user's profile: a one-to-one to the user.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Profile {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub user: OneToOne<User>,
    pub bio: String,
}

/// A user's membership of a group, by username (`to_field`).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(unique_together = "user, group")]
pub struct Membership {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(to_field = "username")]
    pub user: ForeignKey<User, String>,
    pub group: ForeignKey<Group, String>,
}

/// A note pointing at a user by username, not by id.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "id")]
pub struct Note {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(to_field = "username", on_delete = "restrict")]
    pub owner: ForeignKey<User, String>,
    pub body: String,
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

impl Everything {
    /// Two unsaved rows covering every column type: one with every field
    /// set (nullable ones too; quotes in text, microseconds in times, a
    /// leap day), one with only the required fields.
    pub fn samples() -> (Everything, Everything) {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        let time = chrono::NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap_or_default();
        let full = Everything {
            small: -7,
            int: 1 << 30,
            big: 1 << 40,
            float: 1.5,
            double: -2.25,
            flag: true,
            text: "héllo 'quoted' \"x\"".into(),
            bytes: vec![0, 1, 255],
            day,
            time,
            moment: day.and_time(time),
            maybe_small: Some(3),
            maybe_int: Some(4),
            maybe_big: Some(5),
            maybe_float: Some(0.5),
            maybe_double: Some(0.25),
            maybe_flag: Some(false),
            maybe_text: Some(String::new()),
            maybe_bytes: Some(vec![]),
            maybe_day: Some(day),
            maybe_time: Some(time),
            maybe_moment: Some(day.and_time(time)),
            ..Default::default()
        };
        let empty = Everything {
            day,
            time,
            moment: day.and_time(time),
            ..Default::default()
        };
        (full, empty)
    }
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
#[orm(ordering = "name")]
pub struct Group {
    #[orm(primary_key, max_length = 50)]
    pub name: String,
    pub size: i32,
}

/// A person whose relations refuse lazy loading (model-level RAISE).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(fetch_mode = "raise")]
pub struct Person {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    /// The person's passport, if any (reverse of `Passport.person`).
    #[orm(reverse_of = "person")]
    pub passport: ReverseOneToOne<Passport>,
    /// Their pets (reverse of `Pet.owner`).
    #[orm(reverse_of = "owner")]
    pub pets: Related<Pet>,
}

/// A passport: a one-to-one to a person.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Passport {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub person: OneToOne<Person>,
    pub number: String,
}

/// A pet of a person, ordered by a nullable field.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(ordering = "-age, name")]
pub struct Pet {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(null)]
    pub owner: ForeignKey<Person>,
    pub name: String,
    pub age: Option<i32>,
}

/// A model with nothing but its auto-increment key.
#[derive(Model, Debug, Clone, Default, PartialEq)]
pub struct Ticket {
    #[orm(primary_key)]
    pub id: Option<i64>,
}

/// One unsaved choice per question (`c0`, `c1`, ...), pointing at it.
pub fn one_choice_each(questions: &[Question]) -> Vec<Choice> {
    questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut c = Choice {
                choice_text: format!("c{i}"),
                ..Default::default()
            };
            c.question.set_key(q.id);
            c
        })
        .collect()
}

/// The polls app's migrations (`orm-tests/migrations`, written by
/// `cargo run -p orm-tests --bin manage -- --migrations orm-tests/migrations
/// makemigrations` from the workspace root), compiled in.
#[cfg(feature = "app")]
pub const MIGRATIONS: orm_migrations::Embedded = orm_migrations::Embedded {
    sqlite: orm_migrations::embed_migrations!("migrations/sqlite"),
    postgres: orm_migrations::embed_migrations!("migrations/postgres"),
    mysql: orm_migrations::embed_migrations!("migrations/mysql"),
};

/// Every model of the polls app, referenced tables first.
pub fn models() -> orm_core::Models {
    orm_core::models![
        Author, Tag, Question, Choice, User, Group, Profile, Membership, Note, Vote, Order,
        Everything, Ticket, Person, Passport, Pet,
    ]
}

/// Saves tags with these names (one `bulk_create`).
pub fn create_tags(
    conn: &mut orm_core::AnyConnection,
    names: &[&str],
) -> orm_core::Result<Vec<Tag>> {
    let mut rows: Vec<Tag> = names
        .iter()
        .map(|n| Tag {
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    Tag::objects().bulk_create(conn, &mut rows)?;
    Ok(rows)
}

/// Saves a question with this text.
pub fn create_question(
    conn: &mut orm_core::AnyConnection,
    text: &str,
) -> orm_core::Result<Question> {
    let mut q = Question {
        question_text: text.into(),
        ..Default::default()
    };
    q.save(conn)?;
    Ok(q)
}

/// Creates the tables of every polls model (and the generated through tables).
pub fn create_all(conn: &mut orm_core::AnyConnection) -> orm_core::Result<()> {
    orm_core::schema::create_all(conn, &models())
}
