//! Parsing submitted strings into field values: the types a form edits.

use std::any::Any;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Calls `$then!` with the field types forms parse.
macro_rules! form_types {
    ($then:ident) => {
        $then!(
            i16,
            i32,
            i64,
            f32,
            f64,
            bool,
            String,
            NaiveDate,
            NaiveTime,
            NaiveDateTime,
            DateTime<Utc>
        )
    };
}

/// Parses `raw` into the field behind `value` (one of the types models
/// map); `None` for a type forms do not edit.
pub(crate) fn assign(
    value: &mut dyn Any,
    raw: &str,
    max_length: Option<u32>,
) -> Option<std::result::Result<(), String>> {
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if let Some(field) = value.downcast_mut::<$t>() {
                return Some(<$t>::parse_form(raw, max_length).map(|v| *field = v));
            }
            if let Some(field) = value.downcast_mut::<Option<$t>>() {
                return Some(<Option<$t>>::parse_form(raw, max_length).map(|v| *field = v));
            }
        )*};
    }
    form_types!(try_types);
    None
}

/// Whether forms edit the field behind `value` (one of the types
/// [`assign`] parses). Other stored types (enums, UUIDs, JSON, decimals,
/// the `time` crate's) are not form fields: a submitted value for one is
/// refused, never dropped.
pub(crate) fn editable(value: &dyn Any) -> bool {
    macro_rules! is_one_of {
        ($($t:ty),*) => {
            $(value.is::<$t>() || value.is::<Option<$t>>())||*
        };
    }
    form_types!(is_one_of)
}

/// Parsing a submitted string into a field value.
///
/// ```
/// use orm_forms::FormValue;
/// assert_eq!(i32::parse_form("42", None), Ok(42));
/// assert!(i32::parse_form("4x", None).is_err());
/// assert_eq!(Option::<i32>::parse_form("", None), Ok(None));
/// assert!(String::parse_form("toolong", Some(3)).is_err());
/// assert!(f64::parse_form("NaN", None).is_err());
/// ```
pub trait FormValue: Sized {
    /// Parses `raw`; the error is the message shown to the user.
    fn parse_form(raw: &str, max_length: Option<u32>) -> std::result::Result<Self, String>;
}

macro_rules! number_value {
    ($($t:ty => $what:literal),*) => {$(
        impl FormValue for $t {
            fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
                raw.trim().parse().map_err(|_| format!("Enter {}.", $what))
            }
        }
    )*};
}
number_value!(
    i16 => "a whole number between -32768 and 32767",
    i32 => "a whole number between -2147483648 and 2147483647",
    i64 => "a whole number"
);

macro_rules! float_value {
    ($($t:ty),*) => {$(
        /// Finite numbers only: `NaN` and `inf` are refused.
        impl FormValue for $t {
            fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
                match raw.trim().parse::<$t>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err("Enter a number.".into()),
                }
            }
        }
    )*};
}
float_value!(f32, f64);

impl FormValue for bool {
    fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok(true),
            "" | "off" | "false" | "0" | "no" => Ok(false),
            _ => Err("Enter true or false.".into()),
        }
    }
}

impl FormValue for String {
    fn parse_form(raw: &str, max_length: Option<u32>) -> std::result::Result<Self, String> {
        let length = raw.chars().count();
        match max_length {
            Some(max) if length > max as usize => Err(format!(
                "Ensure this value has at most {max} characters (it has {length})."
            )),
            _ => Ok(raw.to_owned()),
        }
    }
}

/// Whether `raw` starts with a year of four digits and a `-`: chrono's
/// `%Y` also reads `26` as the year 26.
fn four_digit_year(raw: &str) -> bool {
    matches!(raw.as_bytes(), [y1, y2, y3, y4, b'-', ..] if [y1, y2, y3, y4].iter().all(|d| d.is_ascii_digit()))
}

impl FormValue for NaiveDate {
    fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
        let raw = raw.trim();
        four_digit_year(raw)
            .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| "Enter a valid date (YYYY-MM-DD).".into())
    }
}

impl FormValue for NaiveTime {
    fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
        let raw = raw.trim();
        NaiveTime::parse_from_str(raw, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M"))
            .map_err(|_| "Enter a valid time (HH:MM[:SS]).".into())
    }
}

impl FormValue for NaiveDateTime {
    fn parse_form(raw: &str, _: Option<u32>) -> std::result::Result<Self, String> {
        let raw = raw.trim();
        let invalid = || "Enter a valid date and time (YYYY-MM-DD HH:MM[:SS]).".to_owned();
        if !four_digit_year(raw) {
            return Err(invalid());
        }
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .ok_or_else(invalid)
    }
}

/// A moment in UTC: RFC 3339 with its offset (`2030-01-01T10:00:00+02:00`),
/// or a date and time without one, taken as UTC.
impl FormValue for DateTime<Utc> {
    fn parse_form(raw: &str, max_length: Option<u32>) -> std::result::Result<Self, String> {
        let raw = raw.trim();
        if let Ok(moment) = DateTime::parse_from_rfc3339(raw) {
            return Ok(moment.with_timezone(&Utc));
        }
        NaiveDateTime::parse_form(raw, max_length).map(|naive| naive.and_utc())
    }
}

impl<T: FormValue> FormValue for Option<T> {
    fn parse_form(raw: &str, max_length: Option<u32>) -> std::result::Result<Self, String> {
        if raw.trim().is_empty() {
            Ok(None)
        } else {
            T::parse_form(raw, max_length).map(Some)
        }
    }
}
