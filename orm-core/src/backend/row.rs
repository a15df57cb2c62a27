//! Reading result rows through diesel's stable API.
//!
//! Queries are run with `RunQueryDsl::load`, which decodes each row
//! through `FromSqlRow`: orm-core's own queries ([`OrmQuery`]) on the
//! typed connection inside the `AnyConnection`, others through it. Models
//! decode themselves from a [`RawRow`] (a row read by column position,
//! whatever the backend); [`Decoded`] adapts that to diesel. Queries whose
//! rows are not one model (a joined select, link pairs) stream each row to
//! a [`RowSink`] instead.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::connection::{DefaultLoadingMode, LoadConnection};
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::query_builder::{Query, QueryId};
use diesel::query_dsl::methods::LoadQuery;
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::Untyped;
use diesel::{QueryResult, RunQueryDsl};

use super::{AnyConnection, Dialect, MultiBackend, OnEveryBackend, RunsTyped};
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

    /// Reads an integer column of any width as an `i64`: the hot path of
    /// key reads (links, joins), decoded by the row's own backend
    /// ([`Dialect::int`]), without a closure per value.
    fn int(&self, index: usize) -> deserialize::Result<Option<i64>>;

    /// Reads a text column (a text key).
    fn text(&self, index: usize) -> deserialize::Result<Option<String>>;
}

/// A diesel row of any [`Dialect`]: its values are read as
/// [`MultiBackend`] values, so a model decodes the same way from a row of
/// the `AnyConnection` and from one of the typed connection inside it.
struct RowRef<'r, R, DB>(&'r R, PhantomData<DB>);

impl<'a, DB: Dialect, R: Row<'a, DB>> RowRef<'_, R, DB> {
    /// Column `index` as a non-NULL `T` of SQL type `ST`, or `None`.
    #[inline]
    fn value<ST, T: FromSql<ST, MultiBackend>>(
        &self,
        index: usize,
    ) -> deserialize::Result<Option<T>> {
        let field = self
            .0
            .get(index)
            .ok_or(diesel::result::UnexpectedEndOfRow)?;
        field
            .value()
            .map(|raw| T::from_sql(DB::raw(raw)))
            .transpose()
    }
}

impl<'a, DB: Dialect, R: Row<'a, DB>> RawRow for RowRef<'_, R, DB> {
    #[inline]
    fn with_value(&self, index: usize, f: &mut dyn FnMut(Option<RawValue<'_>>)) -> bool {
        match self.0.get(index) {
            Some(field) => {
                f(field.value().map(DB::raw));
                true
            }
            None => false,
        }
    }

    #[inline]
    fn int(&self, index: usize) -> deserialize::Result<Option<i64>> {
        let field = self
            .0
            .get(index)
            .ok_or(diesel::result::UnexpectedEndOfRow)?;
        field.value().map(DB::int).transpose()
    }

    fn text(&self, index: usize) -> deserialize::Result<Option<String>> {
        self.value::<diesel::sql_types::Text, String>(index)
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

/// Decodes column `index` of `row` as `T` (SQL type `ST`) with the row's
/// own backend's `FromSql`, without `MultiBackend`'s out-of-line
/// dispatch: what generated code reads a column of a type every backend
/// decodes natively with (integers, floats, booleans, text, bytes, dates
/// and times). The same `FromSql` impls as [`read`], reached directly.
#[doc(hidden)]
#[inline]
pub fn read_native<ST, T, R>(row: &R, index: usize) -> deserialize::Result<T>
where
    T: FromSql<ST, MultiBackend> + FromSqlite<ST> + FromPostgres<ST> + FromMysql<ST>,
    R: RawRow + ?Sized,
{
    let mut value = None;
    let found = row.with_value(index, &mut |raw| {
        value = Some(match raw {
            Some(raw) => raw.from_sql::<T, ST>(),
            None => <T as FromSql<ST, MultiBackend>>::from_nullable_sql(None),
        })
    });
    if !found {
        return Err(Box::new(diesel::result::UnexpectedEndOfRow));
    }
    value.unwrap_or_else(|| Err(Box::new(diesel::result::UnexpectedEndOfRow)))
}

/// `FromSql<ST>` on each backend compiled in (nothing for one that is
/// not): the bounds of [`read_native`].
macro_rules! from_sql_on {
    ($($name:ident: $feature:literal => $backend:ty;)+) => {$(
        #[doc(hidden)]
        #[cfg(feature = $feature)]
        pub trait $name<ST>: FromSql<ST, $backend> {}
        #[cfg(feature = $feature)]
        impl<ST, T: FromSql<ST, $backend>> $name<ST> for T {}
        #[doc(hidden)]
        #[cfg(not(feature = $feature))]
        pub trait $name<ST> {}
        #[cfg(not(feature = $feature))]
        impl<ST, T> $name<ST> for T {}
    )+};
}

from_sql_on! {
    FromSqlite: "sqlite" => diesel::sqlite::Sqlite;
    FromPostgres: "postgres" => diesel::pg::Pg;
    FromMysql: "mysql" => diesel::mysql::Mysql;
}

/// A value decoded from a whole row by `build`: a model, or a sink's
/// placeholder. Loads of any SQL type (typed diesel queries, untyped
/// hand-built ones) decode into it.
pub(crate) trait FromRawRow: Sized {
    fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self>;
}

/// Adapts [`FromRawRow`] to diesel's `QueryableByName` (rows of the untyped
/// queries orm-core builds), on any [`Dialect`].
#[doc(hidden)]
pub struct Decoded<T>(T);

impl<T: FromRawRow, DB: Dialect> QueryableByName<DB> for Decoded<T> {
    #[inline]
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        T::build(&RowRef(row, PhantomData)).map(Decoded)
    }
}

/// A query orm-core wrote that renders for every backend: when
/// [`typed`](Self::typed) (it holds none of a user's diesel expressions),
/// [`load`] runs it on the typed connection inside the `AnyConnection`,
/// skipping `MultiConnection`'s dispatch on every column.
pub(crate) trait OrmQuery:
    OnEveryBackend + Query<SqlType = Untyped> + QueryId + RunQueryDsl<AnyConnection> + RunsTyped
{
    /// Whether it renders for each backend, not only for `MultiBackend`.
    fn typed(&self) -> bool;
}

/// Marks a hand-built statement as an untyped query diesel can run on the
/// `AnyConnection`: `load` decodes its rows by position, `execute` counts
/// them. With `typed by f` (`f: fn(&Self) -> bool`) it is also an
/// [`OrmQuery`], run on the typed connection inside when `f` says so.
macro_rules! untyped_query {
    (impl[$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> diesel::query_builder::Query for $ty {
            type SqlType = diesel::sql_types::Untyped;
        }

        impl<$($generics)*> diesel::query_builder::QueryId for $ty {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl<$($generics)*> diesel::RunQueryDsl<crate::backend::AnyConnection> for $ty {}
    };
    (impl[$($generics:tt)*] $ty:ty; typed by $typed:expr) => {
        untyped_query!(impl[$($generics)*] $ty);
        #[cfg(feature = "sqlite")]
        impl<$($generics)*> diesel::RunQueryDsl<diesel::SqliteConnection> for $ty {}
        #[cfg(feature = "postgres")]
        impl<$($generics)*> diesel::RunQueryDsl<diesel::PgConnection> for $ty {}
        #[cfg(feature = "mysql")]
        impl<$($generics)*> diesel::RunQueryDsl<diesel::MysqlConnection> for $ty {}

        impl<$($generics)*> crate::backend::row::OrmQuery for $ty {
            fn typed(&self) -> bool {
                let typed: fn(&Self) -> bool = $typed;
                typed(self)
            }
        }
    };
}
pub(crate) use untyped_query;

/// Runs `query` and decodes each row as a `T`: on the typed connection
/// inside `conn` when the query is [`typed`](OrmQuery::typed), through
/// `conn` otherwise.
pub(crate) fn load<T, Q>(conn: &mut AnyConnection, query: Q) -> Result<Vec<T>>
where
    T: FromRawRow + 'static,
    Q: OrmQuery,
{
    if query.typed() {
        match conn {
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(c) => return load_on(c, query),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(c) => return load_on(c, query),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(c) => return load_on(c, query),
        }
    }
    load_on(conn, query)
}

/// Runs `query` on `conn` (the `AnyConnection` or a typed one), each row
/// decoded as a `T`, collected straight into the result (no vector of
/// wrappers to unwrap).
fn load_on<'q, C, T, Q>(conn: &mut C, query: Q) -> Result<Vec<T>>
where
    C: LoadConnection,
    C::Backend: Dialect,
    T: FromRawRow + 'static,
    Q: RunQueryDsl<C> + LoadQuery<'q, C, Decoded<T>>,
{
    let rows = query.load_iter::<Decoded<T>, DefaultLoadingMode>(conn)?;
    let rows: QueryResult<Vec<T>> = rows.map(|row| row.map(|Decoded(row)| row)).collect();
    Ok(rows?)
}

/// Runs a query that renders for `MultiBackend` only (an insert returning
/// keys, raw SQL) through `conn`.
pub(crate) fn load_any<'q, T, Q>(conn: &mut AnyConnection, query: Q) -> Result<Vec<T>>
where
    T: FromRawRow + 'static,
    Q: RunQueryDsl<AnyConnection> + LoadQuery<'q, AnyConnection, Decoded<T>>,
{
    load_on(conn, query)
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

    fn int(&self, index: usize) -> deserialize::Result<Option<i64>> {
        self.0.int(index)
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

/// Runs `query`, handing each row to `sink`; returns the sink. Runs on
/// the typed connection inside `conn` when the query is
/// [`typed`](OrmQuery::typed), as [`load`] does.
///
/// diesel decodes rows through a static `FromSqlRow::build_from_row`, so
/// the sink reaches it through a thread-local slot set for the duration of
/// the call (and restored if the call unwinds).
pub(crate) fn load_into<S, Q>(conn: &mut AnyConnection, query: Q, sink: S) -> Result<S>
where
    S: RowSink,
    Q: OrmQuery,
{
    with_sink(sink, || load::<Sunk<S>, Q>(conn, query))
}

/// [`load_into`] for a query that renders for `MultiBackend` only (raw
/// SQL).
pub(crate) fn load_into_any<'q, S, Q>(conn: &mut AnyConnection, query: Q, sink: S) -> Result<S>
where
    S: RowSink,
    Q: RunQueryDsl<AnyConnection> + LoadQuery<'q, AnyConnection, Decoded<Sunk<S>>>,
{
    with_sink(sink, || load_any::<Sunk<S>, Q>(conn, query))
}

/// Runs `run` with `sink` as this thread's row sink; returns the sink.
fn with_sink<S: RowSink>(sink: S, run: impl FnOnce() -> Result<Vec<Sunk<S>>>) -> Result<S> {
    struct Restore(Option<Box<dyn Any>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SINK.with(|sink| *sink.borrow_mut() = previous);
        }
    }
    let previous = SINK.with(|slot| slot.borrow_mut().replace(Box::new(sink)));
    let restore = Restore(previous);
    let loaded = run();
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

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::sync::Mutex;

    use diesel::query_builder::{AstPass, QueryFragment};

    use super::*;

    /// `SELECT 7`, noting the backend it was rendered for.
    struct Probe<'a> {
        typed: bool,
        seen: &'a Mutex<Vec<&'static str>>,
    }

    impl<DB: Dialect> QueryFragment<DB> for Probe<'_> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(std::any::type_name::<DB>());
            }
            out.push_sql("SELECT 7");
            Ok(())
        }
    }

    untyped_query!(impl['a] Probe<'a>; typed by |probe| probe.typed);

    /// The first column, as an integer.
    struct First(Option<i64>);

    impl FromRawRow for First {
        fn build<R: RawRow + ?Sized>(row: &R) -> deserialize::Result<Self> {
            row.int(0).map(First)
        }
    }

    /// Which backends a probe rendered for, and what it read.
    fn run(typed: bool) -> (Vec<&'static str>, Vec<Option<i64>>) {
        let db = crate::Db::connect("sqlite::memory:").expect("open SQLite in memory");
        let mut conn = db.get().expect("a connection");
        let seen = Mutex::new(Vec::new());
        let probe = Probe { typed, seen: &seen };
        let rows: Vec<First> = load(&mut conn, probe).expect("SELECT 7");
        let seen = seen.into_inner().unwrap_or_default();
        (seen, rows.into_iter().map(|First(v)| v).collect())
    }

    #[test]
    fn a_typed_query_runs_on_the_connection_inside() {
        let (seen, rows) = run(true);
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|db| db.ends_with("::Sqlite")), "{seen:?}");
        assert_eq!(rows, [Some(7)]);
    }

    #[test]
    fn an_untyped_query_runs_through_the_any_connection() {
        let (seen, rows) = run(false);
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|db| db.ends_with("::MultiBackend")),
            "{seen:?}"
        );
        assert_eq!(rows, [Some(7)]);
    }
}
