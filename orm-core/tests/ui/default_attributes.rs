// `default` takes a literal of the field's type; not on keys, relations,
// or types without a literal form; a text default fits `max_length`.
// `renamed_from` takes a name.
use orm_core::prelude::*;

#[derive(Model, Debug, Clone, Default)]
pub struct Author {
    #[orm(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug, Clone, Default)]
#[orm(renamed_from = "")]
pub struct Book {
    #[orm(primary_key, default = 1)]
    pub id: Option<i64>,
    #[orm(default = "ten")]
    pub pages: i32,
    #[orm(default = 70000)]
    pub small: i16,
    #[orm(default = 1)]
    pub open: bool,
    #[orm(default = 3)]
    pub title: String,
    #[orm(default = "2020-01-01")]
    pub published: chrono::NaiveDate,
    #[orm(default)]
    pub rank: i32,
    #[orm(default = 1)]
    pub author: ForeignKey<Author>,
    #[orm(renamed_from = 5)]
    pub blurb: String,
    #[orm(default = 1e400)]
    pub huge: f64,
    #[orm(default = 1e300)]
    pub wide: f32,
    #[orm(default = "draft", max_length = 2)]
    pub state: String,
    #[orm(max_length = 6, default = "publié")] // 6 characters, 7 bytes: fits
    pub fits: String,
}

fn main() {}
