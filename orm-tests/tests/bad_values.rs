//! Values a backend cannot store are a typed error naming the field, before
//! the statement is sent, never a silent change; what every backend stores is
//! read back as written. On every backend.

use chrono::{NaiveDate, NaiveDateTime};
use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// Saves `row` and reads it back; `Err` if the save failed.
fn round_trip(conn: &mut AnyConnection, mut row: Everything) -> orm_core::Result<Everything> {
    row.save(conn)?;
    Everything::get(conn, row.id.unwrap_or_default())
}

/// The save fails with `Value` naming `field` of `M` (found while binding,
/// so the statement never reaches the server), and nothing is written.
fn rejected<M: Model>(
    conn: &mut AnyConnection,
    mut row: M,
    field: &str,
) -> orm_core::Result<String> {
    let (saved, log) = capture_queries(conn, |c| row.save(c));
    // Refused while binding: the statement never ran, so it is no query.
    assert_eq!(log.count(), 0, "{:#?}", log.queries());
    let err = saved.unwrap_err();
    match &err {
        OrmError::Value {
            model, field: f, ..
        } => {
            assert_eq!((*model, *f), (M::meta().name, field), "{err}");
        }
        other => panic!("expected a Value error on {field}, got {other:?}"),
    }
    assert_eq!(orm_core::QuerySet::<M>::new().count(conn)?, 0);
    Ok(err.to_string())
}

/// Text columns: a `max_length`, a keyed one without (MySQL's
/// `VARCHAR(255)`), nullable text and JSON.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "bv_label")]
pub struct Label {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 5)]
    pub name: String,
    #[orm(unique)]
    pub code: String,
    pub note: Option<String>,
    pub data: serde_json::Value,
}

fn label_round_trip(conn: &mut AnyConnection, mut row: Label) -> orm_core::Result<Label> {
    row.save(conn)?;
    let back = Label::get(conn, row.id.unwrap_or_default())?;
    Label::objects().delete(conn)?;
    Ok(back)
}

fn moment(year: i32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_micro_opt(0, 0, 0, 1))
        .unwrap_or_default()
}

backend_tests! {
    fn text_over_max_length_is_refused_on_every_backend(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_table::<Label>(&mut conn)?;
        // Characters count, not bytes: five characters, six bytes, fit.
        let fits = Label { name: "héllo".into(), code: "a".into(), ..Default::default() };
        assert_eq!(label_round_trip(&mut conn, fits.clone())?.name, "héllo");
        let long = Label { name: "toolong".into(), ..fits.clone() };
        let message = rejected(&mut conn, long.clone(), "name")?;
        assert!(message.contains("7 characters is more than 5"), "{message}");
        // An update and bulk_create check too.
        let mut saved = fits.clone();
        saved.save(&mut conn)?;
        saved.name = "toolong".into();
        assert!(matches!(saved.save(&mut conn), Err(OrmError::Value { field: "name", .. })));
        assert_eq!(Label::get(&mut conn, saved.id.unwrap_or_default())?.name, "héllo");
        Label::objects().delete(&mut conn)?;
        let err = Label::objects().bulk_create(&mut conn, &mut [long]).unwrap_err();
        assert!(matches!(err, OrmError::Value { field: "name", .. }), "{err}");
        assert_eq!(Label::objects().count(&mut conn)?, 0);
        // A keyed text column without max_length is a VARCHAR(255) on MySQL.
        let wide = Label { code: "c".repeat(256), ..fits };
        match db.backend() {
            BackendKind::Mysql => {
                let message = rejected(&mut conn, wide, "code")?;
                assert!(message.contains("256 characters is more than 255"), "{message}");
            }
            _ => assert_eq!(label_round_trip(&mut conn, wide)?.code.len(), 256),
        }
        Ok(())
    }

    fn nul_characters_are_refused_on_postgres_only(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_table::<Label>(&mut conn)?;
        let base = Label { name: "n".into(), code: "c".into(), ..Default::default() };
        let text = Label { note: Some("a\0b".into()), ..base.clone() };
        let json = Label { data: serde_json::json!({"k": ["a\0b"]}), ..base.clone() };
        let key = Label { data: serde_json::json!({"a\0b": 1}), ..base };
        if db.backend() == BackendKind::Postgres {
            let message = rejected(&mut conn, text, "note")?;
            assert!(message.contains("NUL character"), "{message}");
            let message = rejected(&mut conn, json, "data")?;
            assert!(message.contains("NUL character"), "{message}");
            rejected(&mut conn, key, "data")?;
            // Refused while binding: no statement reached the server.
            assert_eq!(Label::objects().count(&mut conn)?, 0);
        } else {
            assert_eq!(label_round_trip(&mut conn, text.clone())?.note, text.note);
            assert_eq!(label_round_trip(&mut conn, json.clone())?.data, json.data);
            assert_eq!(label_round_trip(&mut conn, key.clone())?.data, key.data);
        }
        Ok(())
    }

    fn floats_nan_and_infinity(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let (base, _) = Everything::samples();
        let nan = Everything { maybe_double: Some(f64::NAN), ..base.clone() };
        let inf = Everything { float: f32::INFINITY, ..base.clone() };
        match db.backend() {
            BackendKind::Sqlite => {
                let message = rejected(&mut conn, nan, "maybe_double")?;
                assert!(message.contains("NaN cannot be stored on SQLite"), "{message}");
                assert_eq!(round_trip(&mut conn, inf)?.float, f32::INFINITY);
            }
            BackendKind::Mysql => {
                rejected(&mut conn, nan, "maybe_double")?;
                let message = rejected(&mut conn, inf, "float")?;
                assert!(message.contains("finite numbers only"), "{message}");
                // bulk_create checks too.
                let err = Everything::objects().bulk_create(&mut conn, &mut [base.clone(), Everything { double: f64::NEG_INFINITY, ..base.clone() }]).unwrap_err();
                assert!(matches!(err, OrmError::Value { field: "double", .. }), "{err:?}");
            }
            BackendKind::Postgres => {
                assert!(round_trip(&mut conn, nan)?.maybe_double.is_some_and(f64::is_nan));
                assert_eq!(round_trip(&mut conn, inf)?.float, f32::INFINITY);
            }
        }
        // -0.0: PostgreSQL keeps the sign, SQLite and MariaDB return 0.0.
        let zero = round_trip(&mut conn, Everything { double: -0.0, ..base })?.double;
        assert_eq!(zero, 0.0);
        assert_eq!(zero.is_sign_negative(), db.backend() == BackendKind::Postgres);
        Ok(())
    }

    fn an_integer_past_its_columns_range_fails_on_every_backend(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let question = create_question(&mut conn, "q")?;
        let mut choice = Choice { votes: i32::MAX, ..Default::default() };
        choice.question.set_key(question.id);
        choice.save(&mut conn)?;
        // SQLite's integers are 64 bits: the column checks its range, as
        // PostgreSQL's and MySQL's do, instead of keeping 2^31 to be read
        // back as i32::MIN.
        let past = Choice::objects().update(&mut conn, choice::votes.eq(choice::votes + 1));
        assert!(matches!(past, Err(OrmError::Database(_))), "{past:?}");
        choice.refresh_from_db(&mut conn)?;
        assert_eq!(choice.votes, i32::MAX);
        Ok(())
    }

    fn dates_out_of_a_backends_range(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let (base, _) = Everything::samples();
        // What every backend stores, read back unchanged (MariaDB used to
        // turn datetimes outside 1970–2038 into NULL).
        let last = NaiveDate::from_ymd_opt(9999, 12, 31)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
            .unwrap_or_default();
        for moment in [moment(1), moment(1000), moment(1969), moment(2100), last] {
            let row = Everything { moment, maybe_moment: Some(moment), day: moment.date(), ..base.clone() };
            let back = round_trip(&mut conn, row)?;
            assert_eq!((back.moment, back.maybe_moment, back.day), (moment, Some(moment), moment.date()));
        }
        Everything::objects().delete(&mut conn)?;
        let negative = Everything { maybe_moment: Some(moment(-1)), ..base.clone() };
        let far = Everything { day: moment(10_000).date(), ..base.clone() };
        let before_pg = Everything { moment: moment(-4713), ..base.clone() };
        match db.backend() {
            BackendKind::Mysql => {
                let message = rejected(&mut conn, negative, "maybe_moment")?;
                assert!(message.contains("years 0 to 9999"), "{message}");
                rejected(&mut conn, far, "day")?;
            }
            BackendKind::Postgres => {
                let message = rejected(&mut conn, before_pg, "moment")?;
                assert!(message.contains("24 November 4714 BC"), "{message}");
                assert_eq!(round_trip(&mut conn, negative)?.maybe_moment, Some(moment(-1)));
                assert_eq!(round_trip(&mut conn, far)?.day, moment(10_000).date());
            }
            BackendKind::Sqlite => {
                // Stored as text, which sorts as dates for years 0-9999 only.
                let message = rejected(&mut conn, before_pg, "moment")?;
                assert!(message.contains("years 0 to 9999"), "{message}");
                rejected(&mut conn, negative, "maybe_moment")?;
                rejected(&mut conn, far, "day")?;
            }
        }
        Ok(())
    }

    fn a_leap_second_is_refused_on_every_backend(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let (base, _) = Everything::samples();
        // chrono's `:60`: PostgreSQL and MySQL would store the next second
        // (`23:59:60` read back as `00:00:00`).
        let leap = chrono::NaiveTime::from_hms_milli_opt(23, 59, 59, 1_500).unwrap_or_default();
        let day = base.day;
        let message = rejected(&mut conn, Everything { time: leap, ..base.clone() }, "time")?;
        assert!(message.contains("leap second"), "{message}");
        rejected(&mut conn, Everything { maybe_moment: Some(day.and_time(leap)), ..base.clone() }, "maybe_moment")?;
        rejected(&mut conn, Everything { maybe_time: Some(leap), ..base.clone() }, "maybe_time")?;
        // The second before it is stored as written.
        let last = chrono::NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or_default();
        assert_eq!(round_trip(&mut conn, Everything { time: last, ..base })?.time, last);
        Ok(())
    }

    fn the_first_and_the_leap_days_a_backend_stores(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let (base, _) = Everything::samples();
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let row = |day: NaiveDate| Everything {
            day,
            moment: day.and_hms_opt(0, 0, 0).unwrap_or_default(),
            ..base.clone()
        };
        // PostgreSQL's first day is 4714-11-24 BC (-4713-11-24), dates
        // and timestamps alike.
        let first_pg = on(-4713, 11, 24);
        // Year 0 is a leap year in chrono (and PostgreSQL), not in MariaDB.
        let leap_zero = on(0, 2, 29);
        match db.backend() {
            BackendKind::Postgres => {
                let message = rejected(&mut conn, row(on(-4713, 11, 23)), "day")?;
                assert!(message.contains("24 November 4714 BC"), "{message}");
                let back = round_trip(&mut conn, row(first_pg))?;
                assert_eq!((back.day, back.moment.date()), (first_pg, first_pg));
                assert_eq!(round_trip(&mut conn, row(leap_zero))?.day, leap_zero);
            }
            BackendKind::Mysql => {
                let message = rejected(&mut conn, row(leap_zero), "day")?;
                assert!(message.contains("0000-02-29"), "{message}");
                let moment = Everything { moment: leap_zero.and_hms_opt(0, 0, 0).unwrap_or_default(), ..base.clone() };
                rejected(&mut conn, moment, "moment")?;
                assert_eq!(round_trip(&mut conn, row(on(0, 3, 1)))?.day, on(0, 3, 1));
            }
            BackendKind::Sqlite => {
                rejected(&mut conn, row(on(-1, 12, 31)), "day")?;
                assert_eq!(round_trip(&mut conn, row(leap_zero))?.day, leap_zero);
            }
        }
        Ok(())
    }
}
