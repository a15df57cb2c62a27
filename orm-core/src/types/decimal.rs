//! `bigdecimal::BigDecimal` columns: diesel's `Numeric`, which its
//! multi-backend connection supports as it is (`NUMERIC(p, s)` on
//! PostgreSQL and MySQL; a `REAL`, so 15 significant digits, on SQLite).
//!
//! SQLite hands back the double it stored, whose exact binary value has
//! more digits than were written (`0.1` is `0.1000000000000000055…`): a
//! column declared with `decimal_places` rounds what it reads to them, so
//! `19.99` reads back as `19.99` there too (a no-op on the other backends,
//! whose columns have that scale already).

use bigdecimal::{BigDecimal, RoundingMode};

/// A decimal column's value, rounded on read to the column's
/// `decimal_places`, half away from zero as PostgreSQL and MySQL round on
/// write (`0.125` to two places is `0.13` on every backend).
///
/// ```
/// use std::str::FromStr;
/// use orm_core::__private_v1::DecimalColumn;
/// let read = bigdecimal::BigDecimal::from_str("0.1000000000000000055").unwrap_or_default();
/// assert_eq!(read.to_places(2).to_string(), "0.10");
/// let half = |s: &str| bigdecimal::BigDecimal::from_str(s).unwrap_or_default().to_places(2).to_string();
/// assert_eq!((half("0.125"), half("-0.125")), ("0.13".to_string(), "-0.13".to_string()));
/// ```
#[doc(hidden)]
pub trait DecimalColumn: Sized {
    /// `self` with at most `places` decimal places.
    fn to_places(self, places: u32) -> Self;
}

impl DecimalColumn for BigDecimal {
    fn to_places(self, places: u32) -> Self {
        if self.fractional_digit_count() > i64::from(places) {
            self.with_scale_round(i64::from(places), RoundingMode::HalfUp)
        } else {
            self
        }
    }
}

impl DecimalColumn for Option<BigDecimal> {
    fn to_places(self, places: u32) -> Self {
        self.map(|d| d.to_places(places))
    }
}
