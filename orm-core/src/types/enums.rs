//! Fieldless enums stored in a column (`#[derive(OrmEnum)]`): as text or
//! as an integer (the model's field chooses), with the accepted values in a
//! `CHECK` constraint. A stored value that is no variant is a typed error
//! ([`UnknownEnumValue`]), never a panic.
//!
//! The derive implements [`OrmEnum`] and calls `orm_enum_impls!`
//! (`enum_impls`), whose `FromSql`, `ToSql` and `AsExpression` impls call
//! the generic code here; the model's generated code reads and binds an
//! enum column through [`ChoiceColumn`].

use std::cmp::Ordering;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::query_builder::AstPass;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::QueryResult;

use crate::backend::row::RawRow;
use crate::backend::MultiBackend;
use crate::meta::Choices;

/// A fieldless enum stored in a column; implemented by `#[derive(OrmEnum)]`.
///
/// Mark the model's field `#[orm(choices)]` to store it as text: each
/// variant as its name in snake case (`InReview` → `in_review`) or its
/// `#[orm(value = "...")]`; or `#[orm(choices = "integer")]` to store it as
/// its discriminant (`Variant = 3`, or the implicit one). Either way the
/// column gets a `CHECK` constraint listing the values.
///
/// ```
/// use orm_core::prelude::*;
///
/// #[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq)]
/// pub enum Status {
///     #[default]
///     Draft,
///     #[orm(value = "live")]
///     Published,
/// }
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Post {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(choices)]
///     pub status: Status,
///     #[orm(choices = "integer")]
///     pub previous: Option<Status>,
/// }
///
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Post>(&mut conn)?;
/// Post { status: Status::Published, ..Default::default() }.save(&mut conn)?;
/// let live = Post::objects().filter(post::status.eq(Status::Published)).count(&mut conn)?;
/// assert_eq!(live, 1);
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an OrmEnum, so it cannot be an #[orm(choices)] field",
    label = "not an OrmEnum",
    note = "derive it on a fieldless enum: #[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]"
)]
pub trait OrmEnum: Copy + PartialEq + Send + Sync + 'static {
    /// The enum's name, for errors.
    const NAME: &'static str;
    /// The variants, in declaration order.
    const VARIANTS: &'static [Self];
    /// Each variant's text, in the same order (text storage).
    const TEXTS: &'static [&'static str];
    /// Each variant's discriminant, in the same order (integer storage).
    const INTS: &'static [i32];
    /// Whether every discriminant fits an `i32` (`INTS` holds them
    /// truncated otherwise, and integer storage refuses the enum).
    const INTS_FIT: bool = true;
}

/// Whether every discriminant fits an `i32`, what integer storage writes
/// (an `INTEGER`): the derive's `INTS_FIT`.
#[doc(hidden)]
pub const fn fit_i32(values: &[i128]) -> bool {
    let mut i = 0;
    while i < values.len() {
        if values[i] < i32::MIN as i128 || values[i] > i32::MAX as i128 {
            return false;
        }
        i += 1;
    }
    true
}

/// `value`'s discriminant, as integer storage writes it; `Err` says what
/// to do when the enum's discriminants do not fit an `i32`.
fn discriminant<E: OrmEnum>(value: &E) -> Result<&'static i32, String> {
    if !E::INTS_FIT {
        return Err(wide::<E>());
    }
    E::INTS
        .get(position(value)?)
        .ok_or_else(|| format!("{} has fewer discriminants than variants", E::NAME))
}

fn wide<E: OrmEnum>() -> String {
    format!(
        "{} has a discriminant wider than an i32, which an INTEGER column cannot hold: store it as text (#[orm(choices)]) or give the variants smaller values",
        E::NAME
    )
}

/// A stored value that is not one of the enum's: the row was written by
/// something else, or a variant was removed. Update the rows or add the
/// variant back; the load fails with this inside
/// `OrmError::Database(DeserializationError)`.
///
/// ```
/// let err = orm_core::UnknownEnumValue { name: "Status", value: "'gone'".into(), accepted: "'draft', 'live'".into() };
/// assert_eq!(err.to_string(), "the column holds 'gone', which is no Status; accepted: 'draft', 'live'; update the rows or add the variant");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the column holds {value}, which is no {name}; accepted: {accepted}; update the rows or add the variant")]
pub struct UnknownEnumValue {
    /// The enum.
    pub name: &'static str,
    /// The value found, as SQL would write it.
    pub value: String,
    /// The values the enum stores, as SQL would write them.
    pub accepted: String,
}

fn variant<E: OrmEnum>(
    position: Option<usize>,
    value: String,
    choices: Choices,
) -> deserialize::Result<E> {
    position
        .and_then(|p| E::VARIANTS.get(p).copied())
        .ok_or_else(|| {
            UnknownEnumValue {
                name: E::NAME,
                value,
                accepted: choices.sql_list(),
            }
            .into()
        })
}

/// `FromSql<Text>` of a derived enum: the variant stored, or [`UnknownEnumValue`].
#[doc(hidden)]
pub fn text_from_sql<E: OrmEnum>(
    bytes: <MultiBackend as Backend>::RawValue<'_>,
) -> deserialize::Result<E> {
    let value = <String as FromSql<Text, MultiBackend>>::from_sql(bytes)?;
    let position = E::TEXTS.iter().position(|v| *v == value);
    variant(
        position,
        Choices::Text(&[]).quote(&value),
        Choices::Text(E::TEXTS),
    )
}

/// `FromSql<Integer>` of a derived enum: the variant stored, or [`UnknownEnumValue`].
#[doc(hidden)]
pub fn int_from_sql<E: OrmEnum>(
    bytes: <MultiBackend as Backend>::RawValue<'_>,
) -> deserialize::Result<E> {
    if !E::INTS_FIT {
        return Err(wide::<E>().into());
    }
    let value = <i32 as FromSql<Integer, MultiBackend>>::from_sql(bytes)?;
    let position = E::INTS.iter().position(|v| *v == value);
    variant(position, value.to_string(), Choices::Integer(E::INTS))
}

fn position<E: OrmEnum>(value: &E) -> Result<usize, String> {
    E::VARIANTS
        .iter()
        .position(|v| v == value)
        .ok_or_else(|| format!("a {} that is not in its VARIANTS", E::NAME))
}

/// `ToSql<Text>` of a derived enum: its text.
#[doc(hidden)]
pub fn text_to_sql<E: OrmEnum>(
    value: &E,
    out: &mut Output<'_, '_, MultiBackend>,
) -> serialize::Result {
    let stored: &'static str = E::TEXTS
        .get(position(value)?)
        .ok_or_else(|| format!("{} has fewer texts than variants", E::NAME))?;
    out.set_value((Text, stored));
    Ok(IsNull::No)
}

/// `ToSql<Integer>` of a derived enum: its discriminant.
#[doc(hidden)]
pub fn int_to_sql<E: OrmEnum>(
    value: &E,
    out: &mut Output<'_, '_, MultiBackend>,
) -> serialize::Result {
    out.set_value((Integer, discriminant(value)?));
    Ok(IsNull::No)
}

/// `ToSql<Text, DB>` of a derived enum on one backend `DB` (diesel renders
/// `eq_any` per backend): its text.
#[doc(hidden)]
pub fn text_to_sql_on<'b, E: OrmEnum, DB: Backend>(
    value: &E,
    out: &mut Output<'b, '_, DB>,
) -> serialize::Result
where
    str: ToSql<Text, DB>,
{
    let stored: &'static str = E::TEXTS
        .get(position(value)?)
        .ok_or_else(|| format!("{} has fewer texts than variants", E::NAME))?;
    <str as ToSql<Text, DB>>::to_sql(stored, out)
}

/// `ToSql<Integer, DB>` of a derived enum on one backend `DB`: its
/// discriminant.
#[doc(hidden)]
pub fn int_to_sql_on<'b, E: OrmEnum, DB: Backend>(
    value: &E,
    out: &mut Output<'b, '_, DB>,
) -> serialize::Result
where
    i32: ToSql<Integer, DB>,
{
    <i32 as ToSql<Integer, DB>>::to_sql(discriminant(value)?, out)
}

/// The value of an `#[orm(choices)]` field, an [`OrmEnum`] or an `Option`
/// of one, read and bound by the model's generated code through the enum's
/// own tables (so a field type that is no `OrmEnum` is one error, this
/// trait's bound, not one per diesel trait).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an OrmEnum, so it cannot be an #[orm(choices)] field",
    label = "not an OrmEnum (or an Option of one)",
    note = "derive it on a fieldless enum: #[derive(OrmEnum, Debug, Clone, Copy, PartialEq)]"
)]
pub trait ChoiceColumn: Sized {
    /// Reads column `index` of `row`, stored as an integer or as text.
    fn read<R: RawRow + ?Sized>(row: &R, index: usize, integer: bool) -> deserialize::Result<Self>;
    /// Binds the value, as an integer or as text.
    fn bind<'b>(
        &'b self,
        integer: bool,
        out: &mut AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()>;
    /// Orders two values as the database orders what it stores: by text
    /// or by discriminant (not by declaration), `None` first (the default
    /// ordering sorts NULLs first on every backend).
    fn cmp_stored(&self, other: &Self, integer: bool) -> Ordering;
}

/// Column `index` of `row` decoded by `decode` (`None` for NULL).
fn read_with<E: OrmEnum, R: RawRow + ?Sized>(
    row: &R,
    index: usize,
    integer: bool,
) -> deserialize::Result<Option<E>> {
    let mut value = None;
    let found = row.with_value(index, &mut |raw| {
        value = Some(match raw {
            None => Ok(None),
            Some(raw) if integer => int_from_sql::<E>(raw).map(Some),
            Some(raw) => text_from_sql::<E>(raw).map(Some),
        })
    });
    match value {
        Some(value) if found => value,
        _ => Err(Box::new(diesel::result::UnexpectedEndOfRow)),
    }
}

impl<E: OrmEnum> ChoiceColumn for E {
    fn cmp_stored(&self, other: &Self, integer: bool) -> Ordering {
        let (Ok(a), Ok(b)) = (position(self), position(other)) else {
            return Ordering::Equal;
        };
        if integer {
            E::INTS.get(a).cmp(&E::INTS.get(b))
        } else {
            E::TEXTS.get(a).cmp(&E::TEXTS.get(b))
        }
    }

    fn read<R: RawRow + ?Sized>(row: &R, index: usize, integer: bool) -> deserialize::Result<Self> {
        read_with::<E, R>(row, index, integer)?
            .ok_or_else(|| Box::new(diesel::result::UnexpectedNullError).into())
    }

    fn bind<'b>(
        &'b self,
        integer: bool,
        out: &mut AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        if integer {
            let stored = discriminant(self).map_err(|reason| {
                diesel::result::Error::SerializationError(Box::new(crate::error::BadValue {
                    field: None,
                    reason,
                }))
            })?;
            return out.push_bind_param::<Integer, i32>(stored);
        }
        let at = position(self).map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
        let text = E::TEXTS.get(at).ok_or_else(|| {
            diesel::result::Error::SerializationError(
                format!("{} has fewer values than variants", E::NAME).into(),
            )
        })?;
        out.push_bind_param::<Text, str>(text)
    }
}

impl<E: OrmEnum> ChoiceColumn for Option<E> {
    fn cmp_stored(&self, other: &Self, integer: bool) -> Ordering {
        match (self, other) {
            (Some(a), Some(b)) => a.cmp_stored(b, integer),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    }

    fn read<R: RawRow + ?Sized>(row: &R, index: usize, integer: bool) -> deserialize::Result<Self> {
        read_with::<E, R>(row, index, integer)
    }

    fn bind<'b>(
        &'b self,
        integer: bool,
        out: &mut AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        match self {
            Some(value) => value.bind(integer, out),
            None if integer => out.push_bind_param::<Nullable<Integer>, Option<i32>>(&None),
            None => out.push_bind_param::<Nullable<Text>, Option<String>>(&None),
        }
    }
}
