//! Round trips of the column types beyond diesel's common set, on every
//! backend: time-zone-aware instants (chrono and `time`), the `time`
//! crate's types, decimals; edge values and filters on the generated
//! columns.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use orm_core::prelude::*;
use orm_core::{schema, AnyConnection, BackendKind, OrmError};
use orm_tests::backend_tests;

/// A time-zone-aware instant (chrono), required and nullable.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "ct_moment", ordering = "at")]
pub struct Moment {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(index)]
    pub at: DateTime<Utc>,
    pub maybe: Option<DateTime<Utc>>,
}

/// The `time` crate's types.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ct_times")]
pub struct Times {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub day: time::Date,
    pub clock: time::Time,
    pub local: time::PrimitiveDateTime,
    pub at: time::OffsetDateTime,
    pub maybe: Option<time::OffsetDateTime>,
}

/// Decimals at the widest precision every backend accepts, and a money one.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "ct_price")]
pub struct Price {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_digits = 65, decimal_places = 30)]
    pub wide: BigDecimal,
    #[orm(max_digits = 10, decimal_places = 2)]
    pub money: Option<BigDecimal>,
}

/// A fee ordered by a 2-place decimal (streamed in key order of equal
/// amounts).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "ct_fee", ordering = "amount")]
pub struct Fee {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_digits = 10, decimal_places = 2)]
    pub amount: BigDecimal,
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_micro_opt(h, mi, s, micros))
        .expect("a valid date")
        .and_utc()
}

fn dec(s: &str) -> BigDecimal {
    BigDecimal::from_str(s).expect("a decimal literal")
}

/// The earliest year a backend stores: MySQL's `DATETIME` starts at 1000.
fn first_year(conn: &AnyConnection) -> i32 {
    match conn.backend() {
        BackendKind::Mysql => 1000,
        BackendKind::Sqlite | BackendKind::Postgres => 1,
    }
}

backend_tests! {
    fn instants_round_trip_and_filter(db) {
        let mut conn = db.get()?;
        schema::create_table::<Moment>(&mut conn)?;
        // The session time zone does not change what is stored or read.
        match conn.backend() {
            BackendKind::Postgres => conn.batch_execute("SET TIME ZONE 'Europe/Paris'")?,
            BackendKind::Mysql => conn.batch_execute("SET time_zone = '+05:00'")?,
            BackendKind::Sqlite => {}
        }
        let first = utc(first_year(&conn), 1, 1, 0, 0, 0, 0);
        let last = utc(9999, 12, 31, 23, 59, 59, 999_999);
        // Either side of the switch to summer time in Paris (2024-03-31,
        // 01:00 UTC), written in the local offsets.
        let paris_winter = FixedOffset::east_opt(3600).and_then(|o| o.with_ymd_and_hms(2024, 3, 31, 1, 30, 0).single());
        let paris_summer = FixedOffset::east_opt(7200).and_then(|o| o.with_ymd_and_hms(2024, 3, 31, 3, 30, 0).single());
        let (Some(winter), Some(summer)) = (paris_winter, paris_summer) else {
            panic!("valid local times");
        };
        let (winter, summer) = (winter.with_timezone(&Utc), summer.with_timezone(&Utc));
        assert_eq!(summer - winter, chrono::Duration::hours(1));
        let micros = utc(2024, 2, 29, 23, 59, 58, 123_456);
        for (at, maybe) in [(first, None), (last, Some(first)), (winter, Some(summer)), (summer, None), (micros, Some(last))] {
            Moment { at, maybe, ..Default::default() }.save(&mut conn)?;
        }
        let loaded = Moment::objects().load(&mut conn)?;
        let pairs: Vec<_> = loaded.iter().map(|m| (m.at, m.maybe)).collect();
        assert_eq!(
            pairs,
            [(first, None), (micros, Some(last)), (winter, Some(summer)), (summer, None), (last, Some(first))]
        );
        // Filters compare instants.
        let after = Moment::objects().filter(moment::at.gt(winter)).count(&mut conn)?;
        assert_eq!(after, 2);
        let exact = Moment::objects().filter(moment::at.eq(summer)).get(&mut conn)?;
        assert_eq!(exact.maybe, None);
        let between = Moment::objects()
            .filter(moment::at.ge(winter).and(moment::at.lt(summer)))
            .count(&mut conn)?;
        assert_eq!(between, 1);
        assert_eq!(Moment::objects().filter(moment::maybe.eq(Some(first))).count(&mut conn)?, 1);
        assert_eq!(Moment::objects().filter(moment::maybe.is_null()).count(&mut conn)?, 2);
        // A year the backend cannot store: a Value error naming the field,
        // nothing written (SQLite stores any year).
        let out_of_range = match conn.backend() {
            BackendKind::Postgres => Some(utc(-5000, 1, 1, 0, 0, 0, 0)),
            BackendKind::Mysql => Some(utc(10_000, 1, 1, 0, 0, 0, 0)),
            BackendKind::Sqlite => None,
        };
        if let Some(at) = out_of_range {
            let err = Moment { at: first, maybe: Some(at), ..Default::default() }.save(&mut conn).unwrap_err();
            assert!(matches!(err, OrmError::Value { field: "maybe", .. }), "{err}");
            assert_eq!(Moment::objects().count(&mut conn)?, 5);
        }
        Ok(())
    }

    fn time_crate_types_round_trip(db) {
        let mut conn = db.get()?;
        schema::create_table::<Times>(&mut conn)?;
        let year = first_year(&conn);
        let day = time::Date::from_calendar_date(year, time::Month::January, 1)
            .map_err(|e| OrmError::InvalidQuery { model: "Times", reason: e.to_string() })?;
        // diesel 2.3 writes a `time::Time` to MySQL in whole seconds.
        let clock = match conn.backend() {
            BackendKind::Mysql => time::macros::time!(23:59:58),
            BackendKind::Sqlite | BackendKind::Postgres => time::macros::time!(23:59:58.123456),
        };
        // Bound as a `DATETIME` on MySQL (diesel's `TIMESTAMP` parameters
        // end in 2038 there): the last microsecond of 9999 everywhere.
        let local = time::macros::datetime!(9999-12-31 23:59:59.999999);
        // An instant written at +02:00 is read back as the same instant.
        let at = time::macros::datetime!(2024-03-31 03:30:00.5 +02:00);
        let rows = [
            Times { id: None, day, clock, local, at, maybe: None },
            Times {
                id: None,
                day: time::macros::date!(2024-02-29),
                clock: time::macros::time!(00:00),
                local: time::macros::datetime!(2024-02-29 12:00),
                at: time::macros::datetime!(2024-03-31 00:30 UTC),
                maybe: Some(at),
            },
        ];
        for mut row in rows.clone() {
            row.save(&mut conn)?;
        }
        let mut loaded = Times::objects().order_by(times::id.asc()).load(&mut conn)?;
        for (got, want) in loaded.iter_mut().zip(&rows) {
            got.id = None;
            assert_eq!(got, want);
            assert_eq!(got.at.unix_timestamp_nanos(), want.at.unix_timestamp_nanos());
        }
        let later = Times::objects().filter(times::at.gt(time::macros::datetime!(2024-03-31 01:00 UTC))).count(&mut conn)?;
        assert_eq!(later, 1);
        let on_day = Times::objects().filter(times::day.eq(time::macros::date!(2024-02-29))).count(&mut conn)?;
        assert_eq!(on_day, 1);
        Ok(())
    }

    fn decimals_round_trip_and_filter(db) {
        let mut conn = db.get()?;
        schema::create_table::<Price>(&mut conn)?;
        // SQLite stores decimals as REAL: values a double holds exactly
        // round-trip in a 30-place column; a 2-place one rounds to its places.
        let (big, tiny) = match conn.backend() {
            BackendKind::Sqlite => (dec("123456789.0123443603515625"), dec("0.000000000931322574615478515625")),
            BackendKind::Postgres | BackendKind::Mysql => (
                dec("99999999999999999999999999999999999.999999999999999999999999999999"),
                dec("0.000000000000000000000000000001"),
            ),
        };
        let rows = [
            (big.clone(), Some(dec("12345678.90"))),
            (-big.clone(), Some(dec("-0.01"))),
            (tiny.clone(), None),
            (dec("0"), Some(dec("19.99"))),
        ];
        for (wide, money) in rows.iter().cloned() {
            Price { wide, money, ..Default::default() }.save(&mut conn)?;
        }
        let loaded = Price::objects().order_by(price::id.asc()).load(&mut conn)?;
        let got: Vec<_> = loaded.iter().map(|p| (p.wide.clone(), p.money.clone())).collect();
        assert_eq!(got, rows);
        assert_eq!(Price::objects().filter(price::wide.gt(dec("0"))).count(&mut conn)?, 2);
        assert_eq!(Price::objects().filter(price::money.lt(dec("20"))).count(&mut conn)?, 2);
        assert_eq!(Price::objects().filter(price::money.eq(dec("19.99"))).count(&mut conn)?, 1);
        assert_eq!(Price::objects().filter(price::wide.eq_any([dec("0"), tiny.clone()])).count(&mut conn)?, 2);
        // More places than the column has: rounded to 2, half away from
        // zero, on every backend, when the row is written (the instance
        // then holds what is stored, and SQLite stores what the others
        // do: a filter finds it).
        let halves = [("0.125", "0.13"), ("-0.125", "-0.13"), ("0.375", "0.38"), ("1.005", "1.01"), ("2.675", "2.68"), ("0.015", "0.02"), ("-1.005", "-1.01")];
        for (written, read) in halves {
            let mut p = Price { wide: dec("1"), money: Some(dec(written)), ..Default::default() };
            p.save(&mut conn)?;
            assert_eq!(p.money, Some(dec(read)), "{written}");
            let id = p.id.unwrap_or_default();
            let again = Price::get(&mut conn, id)?;
            assert_eq!(again.money, Some(dec(read)), "{written}");
            let found = Price::objects().filter(price::id.eq(id)).filter(price::money.eq(dec(read)));
            assert_eq!(found.count(&mut conn)?, 1, "{written}");
        }
        // Rounded from its exact value, as the servers do: a decimal made
        // from the double 1.005 (1.00499999...) is 1.00.
        let from_double = bigdecimal::BigDecimal::try_from(1.005_f64).map_err(|e| OrmError::InvalidQuery { model: "Price", reason: e.to_string() })?;
        let mut p = Price { wide: dec("1"), money: Some(from_double), ..Default::default() };
        p.save(&mut conn)?;
        assert_eq!(p.money, Some(dec("1.00")));
        assert_eq!(Price::get(&mut conn, p.id.unwrap_or_default())?.money, Some(dec("1.00")));
        Ok(())
    }
}

backend_tests! {
    fn a_stream_ordered_by_a_decimal_yields_every_row_once(db) {
        let mut conn = db.get()?;
        schema::create_table::<Fee>(&mut conn)?;
        // More places than the column keeps: SQLite stores them as
        // written and loads them rounded, so a loaded 0.12 does not find
        // the stored 0.124 again.
        let mut ids = Vec::new();
        for amount in ["0.124", "0.124", "0.125", "0.125", "1"] {
            let mut fee = Fee { amount: dec(amount), ..Default::default() };
            fee.save(&mut conn)?;
            ids.push(fee.id);
        }
        for chunk in [1, 2] {
            let streamed: Vec<Option<i64>> = Fee::objects()
                .iter(&mut conn, chunk)
                .take(10)
                .map(|fee| fee.map(|f| f.id))
                .collect::<orm_core::Result<_>>()?;
            assert_eq!(streamed, ids, "chunks of {chunk}");
        }
        Ok(())
    }
}

/// Loads `all` (no filter of the user's: run on the typed connection) and
/// `filtered` (the same two rows behind a user's filter: run through the
/// `AnyConnection`), each sorted by `id`, and checks they are equal.
fn same_on_both_paths<M: Model + PartialEq + std::fmt::Debug>(
    conn: &mut AnyConnection,
    all: QuerySet<M>,
    filtered: QuerySet<M>,
    id: fn(&M) -> Option<i64>,
) -> orm_core::Result<Vec<M>> {
    let mut typed = all.load(conn)?;
    let mut any = filtered.load(conn)?;
    typed.sort_by_key(id);
    any.sort_by_key(id);
    assert_eq!(typed.len(), 2);
    assert_eq!(typed, any);
    Ok(any)
}

// orm-core's own queries run on the typed connection inside the
// `AnyConnection`; one with a user's filter runs through it. Both decode
// every column type to the same values.
backend_tests! {
    fn both_execution_paths_decode_every_column_the_same(db) {
        let mut conn = db.get()?;
        schema::create_table::<Moment>(&mut conn)?;
        schema::create_table::<Times>(&mut conn)?;
        schema::create_table::<Price>(&mut conn)?;
        let at = utc(2024, 2, 29, 23, 59, 58, 123_456);
        for maybe in [None, Some(utc(first_year(&conn), 1, 1, 0, 0, 0, 0))] {
            Moment { at, maybe, ..Default::default() }.save(&mut conn)?;
        }
        for maybe in [None, Some(time::macros::datetime!(2024-03-31 03:30:00.5 +02:00))] {
            let mut row = Times {
                id: None,
                day: time::macros::date!(2024-02-29),
                clock: time::macros::time!(12:34:56),
                local: time::macros::datetime!(2024-02-29 12:00),
                at: time::macros::datetime!(2024-03-31 00:30 UTC),
                maybe,
            };
            row.save(&mut conn)?;
        }
        for money in [None, Some(dec("-12.34"))] {
            let wide = dec("12345678901234567890.123456789012345678901234567890");
            Price { wide, money, ..Default::default() }.save(&mut conn)?;
        }

        same_on_both_paths(&mut conn, Moment::objects(), Moment::objects().filter(moment::id.ge(0)), |m| m.id)?;
        same_on_both_paths(&mut conn, Times::objects(), Times::objects().filter(times::id.ge(0)), |t| t.id)?;
        let any = same_on_both_paths(&mut conn, Price::objects(), Price::objects().filter(price::id.ge(0)), |p| p.id)?;

        // A lookup by key (typed) reads what the filtered load read.
        let first = any.first().and_then(|p| p.id).unwrap_or_default();
        assert_eq!(Some(&Price::get(&mut conn, first)?), any.first());
        Ok(())
    }
}

/// The SQL each backend gets for these columns.
#[test]
fn column_sql_types() {
    use orm_core::BackendKind::*;
    let sql = |meta, b| schema::create_table_sql(meta, b).remove(0);
    assert!(sql(Moment::meta(), Postgres)
        .contains(r#""at" TIMESTAMPTZ NOT NULL, "maybe" TIMESTAMPTZ)"#));
    // MySQL declares the index inside CREATE TABLE.
    assert!(sql(Moment::meta(), Mysql).contains(
        "`at` DATETIME(6) NOT NULL, `maybe` DATETIME(6), INDEX `ct_moment_at_idx` (`at`))"
    ));
    assert!(sql(Moment::meta(), Sqlite).contains(r#""at" TEXT NOT NULL, "maybe" TEXT)"#));
    assert!(sql(Price::meta(), Postgres)
        .contains(r#""wide" NUMERIC(65, 30) NOT NULL, "money" NUMERIC(10, 2))"#));
    assert!(sql(Price::meta(), Mysql)
        .contains("`wide` NUMERIC(65, 30) NOT NULL, `money` NUMERIC(10, 2))"));
    assert!(sql(Price::meta(), Sqlite).contains(r#""wide" NUMERIC NOT NULL, "money" NUMERIC)"#));
    assert!(sql(Times::meta(), Postgres).contains(r#""day" DATE NOT NULL, "clock" TIME NOT NULL, "local" TIMESTAMP NOT NULL, "at" TIMESTAMPTZ NOT NULL"#));
}
