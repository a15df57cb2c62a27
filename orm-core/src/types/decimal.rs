//! `bigdecimal::BigDecimal` columns: diesel's `Numeric`, which its
//! multi-backend connection supports as it is (`NUMERIC(p, s)` on
//! PostgreSQL and MySQL; a `REAL`, so 15 significant digits, on SQLite).
//!
//! SQLite hands back the double it stored, whose exact binary value has
//! more digits than were written (`0.1` is `0.1000000000000000055…`): a
//! column declared with `decimal_places` rounds what it reads to them, so
//! `19.99` reads back as `19.99` there too (a no-op on the other backends,
//! whose columns have that scale already).

use std::str::FromStr;

use bigdecimal::{BigDecimal, FromPrimitive, RoundingMode, ToPrimitive};

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
/// // The double SQLite stores for 1.005 is just below it: rounded from
/// // what was written, as the other backends round.
/// let stored = <bigdecimal::BigDecimal as bigdecimal::FromPrimitive>::from_f64(1.005).unwrap_or_default();
/// assert_eq!(stored.to_places(2).to_string(), "1.01");
/// ```
#[doc(hidden)]
pub trait DecimalColumn: Sized {
    /// `self` with at most `places` decimal places.
    fn to_places(self, places: u32) -> Self;
}

impl DecimalColumn for BigDecimal {
    fn to_places(self, places: u32) -> Self {
        if self.fractional_digit_count() <= i64::from(places) {
            return self;
        }
        // A double's exact binary value (SQLite's: `1.005` comes back as
        // `1.00499999999999989…`) is rounded from its shortest decimal
        // form, which is what was written; rounding the binary value
        // would give `1.00` where PostgreSQL and MySQL give `1.01`.
        let written = self
            .to_f64()
            .filter(|x| BigDecimal::from_f64(*x).as_ref() == Some(&self))
            .and_then(|x| BigDecimal::from_str(&x.to_string()).ok())
            .unwrap_or(self);
        round_for_write(written, places)
    }
}

/// `value` with at most `places` decimal places, rounded half away from
/// zero from its exact value: what PostgreSQL and MySQL store of it in a
/// column of that scale (a row's write rounds to it on every backend).
pub(crate) fn round_for_write(value: BigDecimal, places: u32) -> BigDecimal {
    if value.fractional_digit_count() <= i64::from(places) {
        return value;
    }
    value.with_scale_round(i64::from(places), RoundingMode::HalfUp)
}

impl DecimalColumn for Option<BigDecimal> {
    fn to_places(self, places: u32) -> Self {
        self.map(|d| d.to_places(places))
    }
}
