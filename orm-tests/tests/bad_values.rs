//! Values a backend cannot store are a typed error naming the field, before
//! the statement is sent, never a silent change; what every backend stores is
//! read back as written. On every backend.

use chrono::{NaiveDate, NaiveDateTime};
use orm_core::prelude::*;
use orm_core::{AnyConnection, BackendKind, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// Saves `row` and reads it back; `Err` if the save failed.
fn round_trip(conn: &mut AnyConnection, mut row: Everything) -> orm_core::Result<Everything> {
    row.save(conn)?;
    Everything::get(conn, row.id.unwrap_or_default())
}

/// The save fails with `Value` naming `field` (found while binding, so the
/// statement never reaches the server), and nothing is written.
fn rejected(
    conn: &mut AnyConnection,
    mut row: Everything,
    field: &str,
) -> orm_core::Result<String> {
    let err = row.save(conn).unwrap_err();
    match &err {
        OrmError::Value {
            model, field: f, ..
        } => {
            assert_eq!((*model, *f), ("Everything", field), "{err}");
        }
        other => panic!("expected a Value error on {field}, got {other:?}"),
    }
    assert_eq!(Everything::objects().count(conn)?, 0);
    Ok(err.to_string())
}

fn moment(year: i32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_micro_opt(0, 0, 0, 1))
        .unwrap_or_default()
}

backend_tests! {
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
                assert!(message.contains("4713 BC"), "{message}");
                assert_eq!(round_trip(&mut conn, negative)?.maybe_moment, Some(moment(-1)));
                assert_eq!(round_trip(&mut conn, far)?.day, moment(10_000).date());
            }
            BackendKind::Sqlite => {
                assert_eq!(round_trip(&mut conn, before_pg)?.moment, moment(-4713));
                assert_eq!(round_trip(&mut conn, far)?.day, moment(10_000).date());
            }
        }
        Ok(())
    }
}
