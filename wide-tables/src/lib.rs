//! Models wider than diesel's default 32 columns: 40 and 64 columns
//! (diesel's `64-column-tables`), and, with the feature `columns-128`,
//! 100 columns (`128-column-tables`).
//!
//! This crate is its own cargo workspace, outside the main one, so that
//! diesel compiled with wide tables is built once, here, and not by every
//! `--all-features` build of the workspace. `scripts/test.sh` (and so CI)
//! builds it in the background while the main suite runs, and runs its
//! tests after. CI runs the 40- and 64-column models: diesel's
//! `128-column-tables` alone costs about 5 CPU-minutes and 11 GB per
//! build, and was what the whole CI run waited for. The 100-column model
//! runs with `cargo nextest run --manifest-path wide-tables/Cargo.toml
//! --features columns-128`.
//!
//! The columns cycle through `i32`, `String`, `Option<i64>`, `bool`, `f64`
//! and `NaiveDateTime`: column `cN` has the type at `(N - 1) % 6`.

use chrono::{DateTime, NaiveDateTime};
use orm_core::prelude::*;

/// A column value computed from a row's seed and the column's number.
pub trait Fill {
    /// The value of column `column` in the row of `seed`.
    fn fill(seed: i64, column: i64) -> Self;
}

impl Fill for i32 {
    fn fill(seed: i64, column: i64) -> Self {
        i32::try_from(seed * 1000 + column).unwrap_or(i32::MAX)
    }
}

impl Fill for String {
    fn fill(seed: i64, column: i64) -> Self {
        format!("row {seed}, column {column} \u{e9}\u{2713}")
    }
}

impl Fill for Option<i64> {
    /// `None` in every third column of a row, so NULLs are written too.
    fn fill(seed: i64, column: i64) -> Self {
        ((seed + column) % 3 != 0).then_some(seed * 1_000_000_000_000 + column)
    }
}

impl Fill for bool {
    fn fill(seed: i64, column: i64) -> Self {
        (seed + column) % 2 == 0
    }
}

impl Fill for f64 {
    /// Binary fractions, which every backend stores exactly.
    fn fill(seed: i64, column: i64) -> Self {
        seed as f64 + column as f64 / 8.0
    }
}

impl Fill for NaiveDateTime {
    /// Whole seconds from 2026-01-01, one day per seed.
    fn fill(seed: i64, column: i64) -> Self {
        let secs = 1_767_225_600 + seed * 86_400 + column;
        DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .naive_utc()
    }
}

/// 40 columns: the key and 39 plain ones, cycling through six types.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "wide40")]
pub struct Wide40 {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub c1: i32,
    pub c2: String,
    pub c3: Option<i64>,
    pub c4: bool,
    pub c5: f64,
    pub c6: NaiveDateTime,
    pub c7: i32,
    pub c8: String,
    pub c9: Option<i64>,
    pub c10: bool,
    pub c11: f64,
    pub c12: NaiveDateTime,
    pub c13: i32,
    pub c14: String,
    pub c15: Option<i64>,
    pub c16: bool,
    pub c17: f64,
    pub c18: NaiveDateTime,
    pub c19: i32,
    pub c20: String,
    pub c21: Option<i64>,
    pub c22: bool,
    pub c23: f64,
    pub c24: NaiveDateTime,
    pub c25: i32,
    pub c26: String,
    pub c27: Option<i64>,
    pub c28: bool,
    pub c29: f64,
    pub c30: NaiveDateTime,
    pub c31: i32,
    pub c32: String,
    pub c33: Option<i64>,
    pub c34: bool,
    pub c35: f64,
    pub c36: NaiveDateTime,
    pub c37: i32,
    pub c38: String,
    pub c39: Option<i64>,
}

impl Wide40 {
    /// An unsaved row whose every column holds a value derived from
    /// `seed` and the column's number, so two seeds differ everywhere.
    pub fn filled(seed: i64) -> Self {
        Wide40 {
            id: None,
            c1: Fill::fill(seed, 1),
            c2: Fill::fill(seed, 2),
            c3: Fill::fill(seed, 3),
            c4: Fill::fill(seed, 4),
            c5: Fill::fill(seed, 5),
            c6: Fill::fill(seed, 6),
            c7: Fill::fill(seed, 7),
            c8: Fill::fill(seed, 8),
            c9: Fill::fill(seed, 9),
            c10: Fill::fill(seed, 10),
            c11: Fill::fill(seed, 11),
            c12: Fill::fill(seed, 12),
            c13: Fill::fill(seed, 13),
            c14: Fill::fill(seed, 14),
            c15: Fill::fill(seed, 15),
            c16: Fill::fill(seed, 16),
            c17: Fill::fill(seed, 17),
            c18: Fill::fill(seed, 18),
            c19: Fill::fill(seed, 19),
            c20: Fill::fill(seed, 20),
            c21: Fill::fill(seed, 21),
            c22: Fill::fill(seed, 22),
            c23: Fill::fill(seed, 23),
            c24: Fill::fill(seed, 24),
            c25: Fill::fill(seed, 25),
            c26: Fill::fill(seed, 26),
            c27: Fill::fill(seed, 27),
            c28: Fill::fill(seed, 28),
            c29: Fill::fill(seed, 29),
            c30: Fill::fill(seed, 30),
            c31: Fill::fill(seed, 31),
            c32: Fill::fill(seed, 32),
            c33: Fill::fill(seed, 33),
            c34: Fill::fill(seed, 34),
            c35: Fill::fill(seed, 35),
            c36: Fill::fill(seed, 36),
            c37: Fill::fill(seed, 37),
            c38: Fill::fill(seed, 38),
            c39: Fill::fill(seed, 39),
        }
    }
}

/// 64 columns (diesel's `64-column-tables` limit): the key and 63 plain
/// ones, cycling through six types.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "wide64")]
pub struct Wide64 {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub c1: i32,
    pub c2: String,
    pub c3: Option<i64>,
    pub c4: bool,
    pub c5: f64,
    pub c6: NaiveDateTime,
    pub c7: i32,
    pub c8: String,
    pub c9: Option<i64>,
    pub c10: bool,
    pub c11: f64,
    pub c12: NaiveDateTime,
    pub c13: i32,
    pub c14: String,
    pub c15: Option<i64>,
    pub c16: bool,
    pub c17: f64,
    pub c18: NaiveDateTime,
    pub c19: i32,
    pub c20: String,
    pub c21: Option<i64>,
    pub c22: bool,
    pub c23: f64,
    pub c24: NaiveDateTime,
    pub c25: i32,
    pub c26: String,
    pub c27: Option<i64>,
    pub c28: bool,
    pub c29: f64,
    pub c30: NaiveDateTime,
    pub c31: i32,
    pub c32: String,
    pub c33: Option<i64>,
    pub c34: bool,
    pub c35: f64,
    pub c36: NaiveDateTime,
    pub c37: i32,
    pub c38: String,
    pub c39: Option<i64>,
    pub c40: bool,
    pub c41: f64,
    pub c42: NaiveDateTime,
    pub c43: i32,
    pub c44: String,
    pub c45: Option<i64>,
    pub c46: bool,
    pub c47: f64,
    pub c48: NaiveDateTime,
    pub c49: i32,
    pub c50: String,
    pub c51: Option<i64>,
    pub c52: bool,
    pub c53: f64,
    pub c54: NaiveDateTime,
    pub c55: i32,
    pub c56: String,
    pub c57: Option<i64>,
    pub c58: bool,
    pub c59: f64,
    pub c60: NaiveDateTime,
    pub c61: i32,
    pub c62: String,
    pub c63: Option<i64>,
}

impl Wide64 {
    /// An unsaved row whose every column holds a value derived from
    /// `seed` and the column's number, so two seeds differ everywhere.
    pub fn filled(seed: i64) -> Self {
        Wide64 {
            id: None,
            c1: Fill::fill(seed, 1),
            c2: Fill::fill(seed, 2),
            c3: Fill::fill(seed, 3),
            c4: Fill::fill(seed, 4),
            c5: Fill::fill(seed, 5),
            c6: Fill::fill(seed, 6),
            c7: Fill::fill(seed, 7),
            c8: Fill::fill(seed, 8),
            c9: Fill::fill(seed, 9),
            c10: Fill::fill(seed, 10),
            c11: Fill::fill(seed, 11),
            c12: Fill::fill(seed, 12),
            c13: Fill::fill(seed, 13),
            c14: Fill::fill(seed, 14),
            c15: Fill::fill(seed, 15),
            c16: Fill::fill(seed, 16),
            c17: Fill::fill(seed, 17),
            c18: Fill::fill(seed, 18),
            c19: Fill::fill(seed, 19),
            c20: Fill::fill(seed, 20),
            c21: Fill::fill(seed, 21),
            c22: Fill::fill(seed, 22),
            c23: Fill::fill(seed, 23),
            c24: Fill::fill(seed, 24),
            c25: Fill::fill(seed, 25),
            c26: Fill::fill(seed, 26),
            c27: Fill::fill(seed, 27),
            c28: Fill::fill(seed, 28),
            c29: Fill::fill(seed, 29),
            c30: Fill::fill(seed, 30),
            c31: Fill::fill(seed, 31),
            c32: Fill::fill(seed, 32),
            c33: Fill::fill(seed, 33),
            c34: Fill::fill(seed, 34),
            c35: Fill::fill(seed, 35),
            c36: Fill::fill(seed, 36),
            c37: Fill::fill(seed, 37),
            c38: Fill::fill(seed, 38),
            c39: Fill::fill(seed, 39),
            c40: Fill::fill(seed, 40),
            c41: Fill::fill(seed, 41),
            c42: Fill::fill(seed, 42),
            c43: Fill::fill(seed, 43),
            c44: Fill::fill(seed, 44),
            c45: Fill::fill(seed, 45),
            c46: Fill::fill(seed, 46),
            c47: Fill::fill(seed, 47),
            c48: Fill::fill(seed, 48),
            c49: Fill::fill(seed, 49),
            c50: Fill::fill(seed, 50),
            c51: Fill::fill(seed, 51),
            c52: Fill::fill(seed, 52),
            c53: Fill::fill(seed, 53),
            c54: Fill::fill(seed, 54),
            c55: Fill::fill(seed, 55),
            c56: Fill::fill(seed, 56),
            c57: Fill::fill(seed, 57),
            c58: Fill::fill(seed, 58),
            c59: Fill::fill(seed, 59),
            c60: Fill::fill(seed, 60),
            c61: Fill::fill(seed, 61),
            c62: Fill::fill(seed, 62),
            c63: Fill::fill(seed, 63),
        }
    }
}

/// 100 columns: the key and 99 plain ones, cycling through six types.
/// Needs diesel's `128-column-tables`: the feature `columns-128`.
#[cfg(feature = "columns-128")]
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "wide100")]
pub struct Wide100 {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub c1: i32,
    pub c2: String,
    pub c3: Option<i64>,
    pub c4: bool,
    pub c5: f64,
    pub c6: NaiveDateTime,
    pub c7: i32,
    pub c8: String,
    pub c9: Option<i64>,
    pub c10: bool,
    pub c11: f64,
    pub c12: NaiveDateTime,
    pub c13: i32,
    pub c14: String,
    pub c15: Option<i64>,
    pub c16: bool,
    pub c17: f64,
    pub c18: NaiveDateTime,
    pub c19: i32,
    pub c20: String,
    pub c21: Option<i64>,
    pub c22: bool,
    pub c23: f64,
    pub c24: NaiveDateTime,
    pub c25: i32,
    pub c26: String,
    pub c27: Option<i64>,
    pub c28: bool,
    pub c29: f64,
    pub c30: NaiveDateTime,
    pub c31: i32,
    pub c32: String,
    pub c33: Option<i64>,
    pub c34: bool,
    pub c35: f64,
    pub c36: NaiveDateTime,
    pub c37: i32,
    pub c38: String,
    pub c39: Option<i64>,
    pub c40: bool,
    pub c41: f64,
    pub c42: NaiveDateTime,
    pub c43: i32,
    pub c44: String,
    pub c45: Option<i64>,
    pub c46: bool,
    pub c47: f64,
    pub c48: NaiveDateTime,
    pub c49: i32,
    pub c50: String,
    pub c51: Option<i64>,
    pub c52: bool,
    pub c53: f64,
    pub c54: NaiveDateTime,
    pub c55: i32,
    pub c56: String,
    pub c57: Option<i64>,
    pub c58: bool,
    pub c59: f64,
    pub c60: NaiveDateTime,
    pub c61: i32,
    pub c62: String,
    pub c63: Option<i64>,
    pub c64: bool,
    pub c65: f64,
    pub c66: NaiveDateTime,
    pub c67: i32,
    pub c68: String,
    pub c69: Option<i64>,
    pub c70: bool,
    pub c71: f64,
    pub c72: NaiveDateTime,
    pub c73: i32,
    pub c74: String,
    pub c75: Option<i64>,
    pub c76: bool,
    pub c77: f64,
    pub c78: NaiveDateTime,
    pub c79: i32,
    pub c80: String,
    pub c81: Option<i64>,
    pub c82: bool,
    pub c83: f64,
    pub c84: NaiveDateTime,
    pub c85: i32,
    pub c86: String,
    pub c87: Option<i64>,
    pub c88: bool,
    pub c89: f64,
    pub c90: NaiveDateTime,
    pub c91: i32,
    pub c92: String,
    pub c93: Option<i64>,
    pub c94: bool,
    pub c95: f64,
    pub c96: NaiveDateTime,
    pub c97: i32,
    pub c98: String,
    pub c99: Option<i64>,
}

#[cfg(feature = "columns-128")]
impl Wide100 {
    /// An unsaved row whose every column holds a value derived from
    /// `seed` and the column's number, so two seeds differ everywhere.
    pub fn filled(seed: i64) -> Self {
        Wide100 {
            id: None,
            c1: Fill::fill(seed, 1),
            c2: Fill::fill(seed, 2),
            c3: Fill::fill(seed, 3),
            c4: Fill::fill(seed, 4),
            c5: Fill::fill(seed, 5),
            c6: Fill::fill(seed, 6),
            c7: Fill::fill(seed, 7),
            c8: Fill::fill(seed, 8),
            c9: Fill::fill(seed, 9),
            c10: Fill::fill(seed, 10),
            c11: Fill::fill(seed, 11),
            c12: Fill::fill(seed, 12),
            c13: Fill::fill(seed, 13),
            c14: Fill::fill(seed, 14),
            c15: Fill::fill(seed, 15),
            c16: Fill::fill(seed, 16),
            c17: Fill::fill(seed, 17),
            c18: Fill::fill(seed, 18),
            c19: Fill::fill(seed, 19),
            c20: Fill::fill(seed, 20),
            c21: Fill::fill(seed, 21),
            c22: Fill::fill(seed, 22),
            c23: Fill::fill(seed, 23),
            c24: Fill::fill(seed, 24),
            c25: Fill::fill(seed, 25),
            c26: Fill::fill(seed, 26),
            c27: Fill::fill(seed, 27),
            c28: Fill::fill(seed, 28),
            c29: Fill::fill(seed, 29),
            c30: Fill::fill(seed, 30),
            c31: Fill::fill(seed, 31),
            c32: Fill::fill(seed, 32),
            c33: Fill::fill(seed, 33),
            c34: Fill::fill(seed, 34),
            c35: Fill::fill(seed, 35),
            c36: Fill::fill(seed, 36),
            c37: Fill::fill(seed, 37),
            c38: Fill::fill(seed, 38),
            c39: Fill::fill(seed, 39),
            c40: Fill::fill(seed, 40),
            c41: Fill::fill(seed, 41),
            c42: Fill::fill(seed, 42),
            c43: Fill::fill(seed, 43),
            c44: Fill::fill(seed, 44),
            c45: Fill::fill(seed, 45),
            c46: Fill::fill(seed, 46),
            c47: Fill::fill(seed, 47),
            c48: Fill::fill(seed, 48),
            c49: Fill::fill(seed, 49),
            c50: Fill::fill(seed, 50),
            c51: Fill::fill(seed, 51),
            c52: Fill::fill(seed, 52),
            c53: Fill::fill(seed, 53),
            c54: Fill::fill(seed, 54),
            c55: Fill::fill(seed, 55),
            c56: Fill::fill(seed, 56),
            c57: Fill::fill(seed, 57),
            c58: Fill::fill(seed, 58),
            c59: Fill::fill(seed, 59),
            c60: Fill::fill(seed, 60),
            c61: Fill::fill(seed, 61),
            c62: Fill::fill(seed, 62),
            c63: Fill::fill(seed, 63),
            c64: Fill::fill(seed, 64),
            c65: Fill::fill(seed, 65),
            c66: Fill::fill(seed, 66),
            c67: Fill::fill(seed, 67),
            c68: Fill::fill(seed, 68),
            c69: Fill::fill(seed, 69),
            c70: Fill::fill(seed, 70),
            c71: Fill::fill(seed, 71),
            c72: Fill::fill(seed, 72),
            c73: Fill::fill(seed, 73),
            c74: Fill::fill(seed, 74),
            c75: Fill::fill(seed, 75),
            c76: Fill::fill(seed, 76),
            c77: Fill::fill(seed, 77),
            c78: Fill::fill(seed, 78),
            c79: Fill::fill(seed, 79),
            c80: Fill::fill(seed, 80),
            c81: Fill::fill(seed, 81),
            c82: Fill::fill(seed, 82),
            c83: Fill::fill(seed, 83),
            c84: Fill::fill(seed, 84),
            c85: Fill::fill(seed, 85),
            c86: Fill::fill(seed, 86),
            c87: Fill::fill(seed, 87),
            c88: Fill::fill(seed, 88),
            c89: Fill::fill(seed, 89),
            c90: Fill::fill(seed, 90),
            c91: Fill::fill(seed, 91),
            c92: Fill::fill(seed, 92),
            c93: Fill::fill(seed, 93),
            c94: Fill::fill(seed, 94),
            c95: Fill::fill(seed, 95),
            c96: Fill::fill(seed, 96),
            c97: Fill::fill(seed, 97),
            c98: Fill::fill(seed, 98),
            c99: Fill::fill(seed, 99),
        }
    }
}
