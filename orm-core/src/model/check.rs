//! What a backend refuses of a field's value before a row is written:
//! the checks of the bind types (`backend::checked`), for a value in hand.

use std::any::Any;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::backend::checked::{
    float_check, naive_date_check, naive_datetime_check, naive_time_check, text_check,
};
use crate::backend::BackendKind;
use crate::meta::ColumnMeta;

/// What `backend` would refuse of `value`, the value of `column`, when a
/// row holding it is written: the reason `OrmError::Value` would give, or
/// `None`. For the types checked when binding that model forms parse
/// (`String`, `f32`, `f64`, `NaiveDate`, `NaiveTime`, `NaiveDateTime`,
/// `DateTime<Utc>` and their `Option`s); any other value is `None`.
/// Model forms report these as field errors before saving.
///
/// ```
/// use orm_core::{check_value, BackendKind, ColumnMeta, SqlKind};
/// let name = ColumnMeta::new("name", "name", SqlKind::Text).max_length(3);
/// assert!(check_value(BackendKind::Sqlite, &name, &"abcd".to_string()).is_some());
/// assert!(check_value(BackendKind::Postgres, &name, &"a\0".to_string()).is_some());
/// assert_eq!(check_value(BackendKind::Mysql, &name, &"abc".to_string()), None);
/// ```
pub fn check_value(backend: BackendKind, column: &ColumnMeta, value: &dyn Any) -> Option<String> {
    /// The value itself, or what an `Option` holds (`None` is stored).
    fn get<T: 'static>(value: &dyn Any) -> Option<&T> {
        value
            .downcast_ref::<T>()
            .or_else(|| value.downcast_ref::<Option<T>>()?.as_ref())
    }
    let label = backend.name();
    let keyed = column.primary_key || column.unique || column.index;
    let checked = if let Some(text) = get::<String>(value) {
        text_check(label, text, column.max_length.unwrap_or(0), keyed)
    } else if let Some(v) = get::<f64>(value) {
        float_check(label, v.is_nan(), v.is_infinite())
    } else if let Some(v) = get::<f32>(value) {
        float_check(label, v.is_nan(), v.is_infinite())
    } else if let Some(d) = get::<NaiveDate>(value) {
        naive_date_check(label, d)
    } else if let Some(t) = get::<NaiveDateTime>(value) {
        naive_datetime_check(label, t)
    } else if let Some(t) = get::<chrono::DateTime<chrono::Utc>>(value) {
        // Stored in UTC, checked as its UTC wall time.
        naive_datetime_check(label, &t.naive_utc())
    } else if let Some(t) = get::<NaiveTime>(value) {
        naive_time_check(t)
    } else {
        Ok(())
    };
    checked.err()
}
