//! JSON columns (feature `serde_json`) on every backend: `serde_json::Value`
//! and `Json<T>`, nested documents with Unicode, NULL, filters on the
//! generated columns, and a stored document that does not fit `T`.

use diesel::connection::SimpleConnection;
use orm_core::prelude::*;
use orm_core::{schema, BackendKind, Json};
use orm_tests::backend_tests;
use serde_json::{json, Value};

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub theme: String,
    pub tabs: Vec<u32>,
    pub owner: Option<String>,
}

/// A measurement: a float JSON has no NaN for.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub value: f64,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "js_reading")]
pub struct Sample {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub reading: Json<Reading>,
}

/// A model ordered by a JSON column.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "js_level", ordering = "level")]
pub struct Ranked {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub level: Json<i32>,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "js_doc")]
pub struct Doc {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub body: Value,
    pub extra: Option<Value>,
    pub settings: Json<Settings>,
    pub maybe_settings: Option<Json<Settings>>,
}

fn nested() -> Value {
    json!({
        "name": "Zoë \"quoted\" \\ back",
        "emoji": "😀 日本語 Ελληνικά",
        "nested": {"list": [1, -2.5, null, true, "x", {"deep": [[], {}]}], "empty": ""},
        "big": 9_007_199_254_740_993_i64,
    })
}

backend_tests! {
    fn json_round_trips_and_filters(db) {
        let mut conn = db.get()?;
        schema::create_table::<Doc>(&mut conn)?;
        let settings = Settings { theme: "dark ☾".into(), tabs: vec![0, u32::MAX], owner: None };
        let rows = [
            Doc { body: nested(), extra: Some(json!([1, 2])), settings: Json(settings.clone()), maybe_settings: None, ..Default::default() },
            Doc { body: json!("just a string"), extra: None, settings: Json::default(), maybe_settings: Some(Json(settings.clone())), ..Default::default() },
            Doc { body: json!(null), extra: Some(json!({})), settings: Json::default(), maybe_settings: None, ..Default::default() },
        ];
        for row in rows.iter().cloned() {
            let mut row = row;
            row.save(&mut conn)?;
        }
        let mut loaded = Doc::objects().order_by(doc::id.asc()).load(&mut conn)?;
        loaded.iter_mut().for_each(|d| d.id = None);
        assert_eq!(loaded, rows);
        // The same through the typed connection (no user expression).
        let mut typed = Doc::objects().unordered().load(&mut conn)?;
        typed.sort_by_key(|d| d.id);
        typed.iter_mut().for_each(|d| d.id = None);
        assert_eq!(typed, rows);
        assert_eq!(loaded[0].settings.theme, "dark ☾");
        assert_eq!(loaded[0].body["nested"]["list"][5]["deep"], json!([[], {}]));
        // Filters on the generated columns.
        assert_eq!(Doc::objects().filter(doc::extra.is_null()).count(&mut conn)?, 1);
        assert_eq!(Doc::objects().filter(doc::maybe_settings.is_not_null()).count(&mut conn)?, 1);
        let by_body = Doc::objects().filter(doc::body.eq(json!("just a string"))).count(&mut conn)?;
        assert_eq!(by_body, 1);
        let by_settings = Doc::objects().filter(doc::settings.eq(Json(settings.clone()))).count(&mut conn)?;
        assert_eq!(by_settings, 1);
        // Updates bind documents too.
        let changed = Doc::objects()
            .filter(doc::extra.is_null())
            .update(&mut conn, doc::extra.eq(Some(json!({"k": "ü"}))))?;
        assert_eq!(changed, 1);
        assert_eq!(Doc::objects().filter(doc::extra.is_null()).count(&mut conn)?, 0);
        Ok(())
    }

    fn a_stream_ordered_by_a_json_column_yields_every_row(db) {
        let mut conn = db.get()?;
        schema::create_table::<Ranked>(&mut conn)?;
        for level in [3, 1, 2] {
            Ranked { level: Json(level), ..Default::default() }.save(&mut conn)?;
        }
        let loaded = Ranked::objects().load(&mut conn)?.len();
        let streamed = Ranked::objects().iter(&mut conn, 1).take(10).collect::<orm_core::Result<Vec<_>>>()?;
        // MySQL compared the JSON column with a text parameter: the stream
        // ended after its first chunk.
        assert_eq!((loaded, streamed.len()), (3, 3));
        Ok(())
    }

    fn a_document_that_does_not_fit_is_an_error(db) {
        let mut conn = db.get()?;
        schema::create_table::<Doc>(&mut conn)?;
        let mut doc = Doc { body: json!(1), ..Default::default() };
        doc.save(&mut conn)?;
        let cast = match conn.backend() {
            BackendKind::Postgres => "'{\"theme\": 5}'::jsonb",
            BackendKind::Mysql | BackendKind::Sqlite => "'{\"theme\": 5}'",
        };
        conn.batch_execute(&format!("UPDATE js_doc SET settings = {cast}"))?;
        let err = Doc::get(&mut conn, doc.id.unwrap_or_default()).expect_err("a number is not a String");
        assert!(matches!(err, OrmError::Database(diesel::result::Error::DeserializationError(_))), "{err}");
        // The other columns still read as `Value`.
        let bodies: Vec<Value> = diesel::RunQueryDsl::load(diesel::QueryDsl::select(doc::table, doc::body), &mut *conn)?;
        assert_eq!(bodies, [json!(1)]);
        Ok(())
    }

    fn a_document_that_would_not_read_back_is_refused_when_written(db) {
        let mut conn = db.get()?;
        schema::create_table::<Sample>(&mut conn)?;
        // serde_json writes NaN as null, which an f64 cannot read.
        let err = Sample { reading: Json(Reading { value: f64::NAN }), ..Default::default() }
            .save(&mut conn)
            .unwrap_err();
        assert!(matches!(err, OrmError::Value { field: "reading", .. }), "{err}");
        assert_eq!(Sample::objects().count(&mut conn)?, 0);
        let mut fine = Sample { reading: Json(Reading { value: 1.5 }), ..Default::default() };
        fine.save(&mut conn)?;
        assert_eq!(Sample::get(&mut conn, fine.id.unwrap_or_default())?.reading.value, 1.5);
        Ok(())
    }
}

#[test]
fn json_column_types() {
    use orm_core::BackendKind::*;
    let sql = |b| schema::create_table_sql(Doc::meta(), b).remove(0);
    assert!(
        sql(Postgres).contains(r#""body" JSONB NOT NULL, "extra" JSONB,"#),
        "{}",
        sql(Postgres)
    );
    assert!(
        sql(Mysql).contains("`body` JSON NOT NULL, `extra` JSON,"),
        "{}",
        sql(Mysql)
    );
    assert!(
        sql(Sqlite).contains(r#""body" TEXT NOT NULL, "extra" TEXT,"#),
        "{}",
        sql(Sqlite)
    );
}
