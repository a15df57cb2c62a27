//! Reading result rows through diesel's stable API.
//!
//! Queries are run with `RunQueryDsl::load`, which decodes each row
//! through `FromSqlRow`. Models decode themselves from a [`RawRow`] (a row
//! read by column position, whatever the backend); [`Decoded`] adapts that
//! to diesel. Queries whose rows are not one model (a joined select, link
//! pairs) stream each row to a [`RowSink`] instead.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::connection::DefaultLoadingMode;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::query_dsl::methods::LoadQuery;
use diesel::row::{Field, NamedRow, Row};
use diesel::{QueryResult, RunQueryDsl};

use super::{AnyConnection, MultiBackend};
use crate::error::Result;

/// A raw value of [`MultiBackend`].
type RawValue<'a> = <MultiBackend as Backend>::RawValue<'a>;

/// A result row read by column position: what generated `from_row` code
/// decodes a model from.
#[doc(hidden)]
pub trait RawRow {
    /// Calls `f` with the raw value of column `index` (`None` for NULL);
    /// false when the row has no such column.
    fn with_value(&self, index: usize, f: &mut dyn FnMut(Option<RawValue<'_>>)) -> bool;

    /// Reads an integer column of `bits` (16, 32 or 64) as an `i64`: the
    /// hot path of key reads (links, joins), without a closure per value.
    fn int(&self, index: usize, bits: u8) -> deserialize::Result<Option<i64>>;

    /// Reads a text column (a text key).
    fn text(&self, index: usize) -> deserialize::Result<Option<String>>;
}

/// Any diesel row of [`AnyConnection`].
struct RowRef<'r, R>(&'r R);

impl<'a, R: Row<'a, MultiBackend>> RawRow for RowRef<'_, R> {
    #[inline]
    fn with_value(&self, index: usize, f: &mut dyn FnMut(Option<RawValue<'_>>)) -> bool {
        match self.0.get(index) {
            Some(field) => {
                f(field.value());
                true
            }
            None => false,
        }
    }

    fn int(&self, index: usize, bits: u8) -> deserialize::Result<Option<i64>> {
        use diesel::sql_types::{BigInt, Integer, Nullable, SmallInt};
        Ok(match bits {
            16 => self
                .0
                .get_value::<Nullable<SmallInt>, Option<i16>, usize>(index)?
                .map(i64::from),
            32 => self
                .0
                .get_value::<Nullable<Integer>, Option<i32>, usize>(index)?
                .map(i64::from),
            _ => self
                .0
                .get_value::<Nullable<BigInt>, Option<i64>, usize>(index)?,
        })
    }

    fn text(&self, index: usize) -> deserialize::Result<Option<String>> {
        self.0.get_value::<diesel::sql_types::Nullable<diesel::sql_types::Text>, Option<String>, usize>(index)
    }
}

/// Decodes column `index` of `row` as `T` (SQL type `ST`).
#[doc(hidden)]
#[inline]
pub fn read<ST, T: FromSql<ST, MultiBackend>, R: RawRow + ?Sized>(
    row: &R,
    index: usize,
) -> deserialize::Result<T> {
    let mut value = None;
    if !row.with_value(index, &mut |raw| value = Some(T::from_nullable_sql(raw))) {
        return Err(Box::new(diesel::result::UnexpectedEndOfRow));
    }
    value.unwrap_or_else(|| Err(Box::new(diesel::result::UnexpectedEndOfRow)))
}

/// A value decoded from a whole row by `build`: a model, or a sink's
/// placeholder. Loads of any SQL type (typed diesel queries, untyped
/// hand-built ones) decode into it.
pub(crate) trait FromRawRow: Sized {
    fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self>;
}

/// Adapts [`FromRawRow`] to diesel's `QueryableByName` (rows of the untyped
/// queries orm-core builds).
#[doc(hidden)]
pub struct Decoded<T>(T);

impl<T: FromRawRow> QueryableByName<MultiBackend> for Decoded<T> {
    #[inline]
    fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> deserialize::Result<Self> {
        T::build(&RowRef(row)).map(Decoded)
    }
}

/// Runs `query` (an untyped query) and decodes each row as a `T`,
/// collected straight into the result (no vector of wrappers to unwrap).
pub(crate) fn load<'c, 'q, T, Q>(conn: &'c mut AnyConnection, query: Q) -> Result<Vec<T>>
where
    T: FromRawRow + 'static,
    Q: RunQueryDsl<AnyConnection> + LoadQuery<'q, AnyConnection, Decoded<T>> + 'c,
{
    let rows = query.load_iter::<Decoded<T>, DefaultLoadingMode>(conn)?;
    let rows: QueryResult<Vec<T>> = rows.map(|row| row.map(|Decoded(row)| row)).collect();
    Ok(rows?)
}

/// Receives the rows of a query one by one (a joined select builds its
/// models and their relations from each row; link pairs are read with
/// their key kinds). `row` is generic, so a sink reads each column
/// without a dynamic call.
pub(crate) trait RowSink: Any {
    fn row<R: RawRow + ?Sized>(&mut self, row: &R) -> deserialize::Result<()>;
}

thread_local! {
    /// The sink of the `load_into` running on this thread. It is set and
    /// taken back within one synchronous diesel `load` call (no other code
    /// runs between), so it is never seen by another query.
    static SINK: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// A row of any `RawRow` type seen as `dyn RawRow` (`R` may be unsized).
pub(crate) struct AsDyn<'r, R: ?Sized>(pub(crate) &'r R);

impl<R: RawRow + ?Sized> RawRow for AsDyn<'_, R> {
    fn with_value(&self, index: usize, f: &mut dyn FnMut(Option<RawValue<'_>>)) -> bool {
        self.0.with_value(index, f)
    }

    fn int(&self, index: usize, bits: u8) -> deserialize::Result<Option<i64>> {
        self.0.int(index, bits)
    }

    fn text(&self, index: usize) -> deserialize::Result<Option<String>> {
        self.0.text(index)
    }
}

/// The placeholder the rows of a sink `S` decode to: zero-sized, so
/// collecting them allocates nothing.
pub(crate) struct Sunk<S>(PhantomData<fn() -> S>);

impl<S: RowSink> FromRawRow for Sunk<S> {
    #[inline]
    fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self> {
        SINK.with(|slot| {
            let mut slot = slot.borrow_mut();
            match slot.as_mut().and_then(|sink| sink.downcast_mut::<S>()) {
                Some(sink) => sink.row(row).map(|()| Sunk(PhantomData)),
                None => Err("a row arrived with no sink to receive it".into()),
            }
        })
    }
}

/// Runs `query`, handing each row to `sink`; returns the sink.
///
/// diesel decodes rows through a static `FromSqlRow::build_from_row`, so
/// the sink reaches it through a thread-local slot set for the duration of
/// the call (and restored if the call unwinds).
pub(crate) fn load_into<'q, S, Q>(conn: &mut AnyConnection, query: Q, sink: S) -> Result<S>
where
    S: RowSink,
    Q: RunQueryDsl<AnyConnection> + LoadQuery<'q, AnyConnection, Decoded<Sunk<S>>>,
{
    struct Restore(Option<Box<dyn Any>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SINK.with(|sink| *sink.borrow_mut() = previous);
        }
    }
    let previous = SINK.with(|slot| slot.borrow_mut().replace(Box::new(sink)));
    let restore = Restore(previous);
    let loaded = load::<Sunk<S>, Q>(conn, query);
    let sink = SINK.with(|slot| slot.borrow_mut().take());
    drop(restore);
    loaded?;
    let sink: Box<dyn Any> = sink.ok_or_else(lost_sink)?;
    sink.downcast::<S>().map(|s| *s).map_err(|_| lost_sink())
}

fn lost_sink() -> crate::OrmError {
    crate::OrmError::Database(diesel::result::Error::DeserializationError(
        "the row sink of a query was replaced while it ran".into(),
    ))
}

/// A sink collecting one value per row.
pub(crate) struct Collect<T, F> {
    pub(crate) rows: Vec<T>,
    decode: F,
    _row: PhantomData<fn() -> T>,
}

impl<T, F> Collect<T, F>
where
    F: FnMut(&dyn RawRow) -> deserialize::Result<Option<T>>,
{
    /// Keeps what `decode` returns for each row (`None`: skip the row).
    pub(crate) fn new(decode: F) -> Self {
        Collect {
            rows: Vec::new(),
            decode,
            _row: PhantomData,
        }
    }
}

impl<T: 'static, F> RowSink for Collect<T, F>
where
    F: FnMut(&dyn RawRow) -> deserialize::Result<Option<T>> + 'static,
{
    fn row<R: RawRow + ?Sized>(&mut self, row: &R) -> deserialize::Result<()> {
        if let Some(value) = (self.decode)(&AsDyn(row))? {
            self.rows.push(value);
        }
        Ok(())
    }
}
