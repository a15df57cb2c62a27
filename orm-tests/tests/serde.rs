//! `#[derive(Model, Serialize, Deserialize)]`: a foreign key as its key,
//! relation slots skipped.

use orm_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Model, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Article {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub title: String,
    #[serde(skip)]
    #[orm(reverse_of = "article")]
    pub comments: Related<Comment>,
}

#[derive(Model, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comment {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub article: ForeignKey<Article>,
    #[orm(null)]
    pub reply_to: ForeignKey<Comment>,
    pub body: String,
}

#[test]
fn foreign_keys_serialize_as_keys_and_slots_are_skipped() -> Result<(), Box<dyn std::error::Error>>
{
    let db = Db::connect("sqlite::memory:")?;
    let mut conn = db.get()?;
    orm_core::schema::create_tables(&mut conn, &[Article::meta(), Comment::meta()])?;
    let mut article = Article {
        title: "Hi".into(),
        ..Default::default()
    };
    article.save(&mut conn)?;
    let mut comment = Comment {
        body: "first".into(),
        ..Default::default()
    };
    comment.article.set(article.clone()); // loaded, but only the key is written
    comment.save(&mut conn)?;
    article.comments().all(&mut conn)?;

    let json = serde_json::to_value(&comment)?;
    assert_eq!(
        json,
        serde_json::json!({"id": 1, "article": 1, "reply_to": null, "body": "first"})
    );
    assert_eq!(
        serde_json::to_value(&article)?,
        serde_json::json!({"id": 1, "title": "Hi"})
    );

    let back: Comment = serde_json::from_value(json)?;
    assert_eq!(back.article.key(), Some(&1));
    assert!(!back.article.is_loaded());
    assert_eq!(back.article(&mut conn)?.title, "Hi");
    Ok(())
}
