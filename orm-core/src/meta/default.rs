//! A column's database default (`#[orm(default = ...)]`).

use std::fmt;

/// The value a column takes in the database when an `INSERT` leaves it out:
/// what `#[orm(default = ...)]` declares. It is written into `CREATE TABLE`
/// and into migrations (an existing table gains a NOT NULL column filled
/// with it); the ORM's own inserts always send the field's value.
///
/// ```
/// use orm_core::ColumnDefault;
/// assert_eq!(ColumnDefault::Text("it's").to_string(), "'it''s'");
/// assert_eq!(ColumnDefault::Int(-3).to_string(), "-3");
/// assert_eq!(ColumnDefault::Bool(true).to_string(), "TRUE");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColumnDefault {
    /// An integer (`default = 0`).
    Int(i64),
    /// A floating-point number (`default = 1.5`).
    Float(f64),
    /// A boolean (`default = false`).
    Bool(bool),
    /// A text (`default = "draft"`).
    Text(&'static str),
}

/// The SQL literal, the same on every backend (SQLite, PostgreSQL and
/// MySQL all read `TRUE`/`FALSE`).
impl fmt::Display for ColumnDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnDefault::Int(n) => write!(f, "{n}"),
            ColumnDefault::Float(x) => write!(f, "{x:?}"),
            ColumnDefault::Bool(true) => f.write_str("TRUE"),
            ColumnDefault::Bool(false) => f.write_str("FALSE"),
            ColumnDefault::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}
