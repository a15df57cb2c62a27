//! Running orm-core's own queries on the connection inside an
//! [`AnyConnection`], not through it.
//!
//! diesel's `MultiConnection` runs a query by serializing it for
//! [`MultiBackend`] and decodes each column through its enums: on a
//! 10,000-row SQLite load that costs a third more than the same load on a
//! `SqliteConnection`. The SQL orm-core writes itself (selects, key lists,
//! default orderings, link queries) renders for any [`Dialect`], so
//! [`load`](super::row) runs it on the typed connection the `AnyConnection`
//! holds. A query that carries a user's diesel expression (a filter, an
//! ordering term) renders for `MultiBackend` only and keeps the
//! `AnyConnection` path: [`Portable`] is what tells them apart.

use diesel::backend::Backend;
use diesel::deserialize;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryResult;

use super::any::MultiRawValue;
use super::{BackendKind, MultiBackend};

/// A backend orm-core's own SQL renders for: [`MultiBackend`] and each
/// backend compiled in.
pub(crate) trait Dialect: Backend {
    /// The database the SQL is for.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn kind(&self) -> BackendKind;

    /// A raw value of this backend as one of [`MultiBackend`], so models
    /// decode the same way from rows of either (the reads that skip
    /// `MultiBackend`'s dispatch: [`read_native`](super::row::read_native)).
    fn raw<'a>(value: Self::RawValue<'a>) -> MultiRawValue<'a>;

    /// Decodes an integer of any width (a `SMALLINT`, `INTEGER` or
    /// `BIGINT` key column) through this backend's own `FromSql`, inlined
    /// where the row's backend is known: the hot path of key reads (link
    /// pairs, joins, primary and foreign keys).
    fn int(value: Self::RawValue<'_>) -> deserialize::Result<i64>;

    /// Renders a piece of SQL orm-core wrote.
    fn walk_portable<'b>(piece: &'b dyn Portable, out: AstPass<'_, 'b, Self>) -> QueryResult<()>;

    /// Renders a user's diesel expression: only [`MultiBackend`] can (the
    /// others fail; [`load`](super::row) checks before it picks them).
    fn walk_multi<'b>(
        piece: &'b (dyn QueryFragment<MultiBackend> + Send + Sync),
        out: AstPass<'_, 'b, Self>,
    ) -> QueryResult<()>;

    /// Binds an `i64` as a `BIGINT`.
    fn bind_int<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b i64) -> QueryResult<()>;

    /// Binds a string as `TEXT`.
    fn bind_text<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b str) -> QueryResult<()>;
}

/// A bound on each backend compiled in: `$name` is `$bound` when
/// `$feature` is on, and nothing otherwise.
macro_rules! on_backend {
    ($($(#[$doc:meta])* $name:ident: $feature:literal => $bound:path;)+) => {$(
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub(crate) trait $name: $bound {}
        #[cfg(feature = $feature)]
        impl<T: $bound + ?Sized> $name for T {}
        $(#[$doc])*
        #[cfg(not(feature = $feature))]
        pub(crate) trait $name {}
        #[cfg(not(feature = $feature))]
        impl<T: ?Sized> $name for T {}
    )+};
}

on_backend! {
    /// Renders on SQLite.
    OnSqlite: "sqlite" => QueryFragment<diesel::sqlite::Sqlite>;
    /// Renders on PostgreSQL.
    OnPostgres: "postgres" => QueryFragment<diesel::pg::Pg>;
    /// Renders on MySQL/MariaDB.
    OnMysql: "mysql" => QueryFragment<diesel::mysql::Mysql>;
    /// Runs on a `SqliteConnection`.
    RunsOnSqlite: "sqlite" => diesel::RunQueryDsl<diesel::SqliteConnection>;
    /// Runs on a `PgConnection`.
    RunsOnPostgres: "postgres" => diesel::RunQueryDsl<diesel::PgConnection>;
    /// Runs on a `MysqlConnection`.
    RunsOnMysql: "mysql" => diesel::RunQueryDsl<diesel::MysqlConnection>;
}

/// A query that runs on each typed connection compiled in.
pub(crate) trait RunsTyped: RunsOnSqlite + RunsOnPostgres + RunsOnMysql {}

impl<T: RunsOnSqlite + RunsOnPostgres + RunsOnMysql> RunsTyped for T {}

/// SQL that renders on every backend compiled in, and on [`MultiBackend`].
pub(crate) trait OnEveryBackend:
    QueryFragment<MultiBackend> + OnSqlite + OnPostgres + OnMysql
{
}

impl<T> OnEveryBackend for T where
    T: QueryFragment<MultiBackend> + OnSqlite + OnPostgres + OnMysql + ?Sized
{
}

/// A piece of SQL orm-core wrote, renderable for any [`Dialect`] through
/// a trait object (one method per backend).
pub(crate) trait Portable: Send + Sync {
    fn walk_multi<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()>;
    #[cfg(feature = "sqlite")]
    fn walk_sqlite<'b>(&'b self, out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()>;
    #[cfg(feature = "postgres")]
    fn walk_postgres<'b>(&'b self, out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()>;
    #[cfg(feature = "mysql")]
    fn walk_mysql<'b>(&'b self, out: AstPass<'_, 'b, diesel::mysql::Mysql>) -> QueryResult<()>;
}

impl<T: OnEveryBackend + Send + Sync> Portable for T {
    fn walk_multi<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        QueryFragment::<MultiBackend>::walk_ast(self, out)
    }
    #[cfg(feature = "sqlite")]
    fn walk_sqlite<'b>(&'b self, out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
        QueryFragment::<diesel::sqlite::Sqlite>::walk_ast(self, out)
    }
    #[cfg(feature = "postgres")]
    fn walk_postgres<'b>(&'b self, out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        QueryFragment::<diesel::pg::Pg>::walk_ast(self, out)
    }
    #[cfg(feature = "mysql")]
    fn walk_mysql<'b>(&'b self, out: AstPass<'_, 'b, diesel::mysql::Mysql>) -> QueryResult<()> {
        QueryFragment::<diesel::mysql::Mysql>::walk_ast(self, out)
    }
}

impl Dialect for MultiBackend {
    fn kind(&self) -> BackendKind {
        match self {
            #[cfg(feature = "sqlite")]
            MultiBackend::Sqlite(_) => BackendKind::Sqlite,
            #[cfg(feature = "postgres")]
            MultiBackend::Postgres(_) => BackendKind::Postgres,
            #[cfg(feature = "mysql")]
            MultiBackend::Mysql(_) => BackendKind::Mysql,
        }
    }

    #[inline(always)]
    fn raw<'a>(value: Self::RawValue<'a>) -> MultiRawValue<'a> {
        value
    }

    #[inline]
    fn int(value: Self::RawValue<'_>) -> deserialize::Result<i64> {
        match value {
            #[cfg(feature = "sqlite")]
            MultiRawValue::Sqlite(value) => diesel::sqlite::Sqlite::int(value),
            #[cfg(feature = "postgres")]
            MultiRawValue::Postgres(value) => diesel::pg::Pg::int(value),
            #[cfg(feature = "mysql")]
            MultiRawValue::Mysql(value) => diesel::mysql::Mysql::int(value),
        }
    }

    fn walk_portable<'b>(piece: &'b dyn Portable, out: AstPass<'_, 'b, Self>) -> QueryResult<()> {
        piece.walk_multi(out)
    }

    fn walk_multi<'b>(
        piece: &'b (dyn QueryFragment<MultiBackend> + Send + Sync),
        out: AstPass<'_, 'b, Self>,
    ) -> QueryResult<()> {
        piece.walk_ast(out)
    }

    fn bind_int<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b i64) -> QueryResult<()> {
        out.push_bind_param::<BigInt, i64>(value)
    }

    fn bind_text<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b str) -> QueryResult<()> {
        out.push_bind_param::<Text, str>(value)
    }
}

/// An integer of any width on SQLite and MySQL: diesel's `i64` decoding
/// reads every integer representation of these backends.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
#[inline(always)]
fn widened<DB: Backend>(value: DB::RawValue<'_>) -> deserialize::Result<i64>
where
    i64: deserialize::FromSql<BigInt, DB>,
{
    <i64 as deserialize::FromSql<BigInt, DB>>::from_sql(value)
}

/// An integer of any width on PostgreSQL, whose binary values are as
/// wide as their column: 2, 4 or 8 bytes.
#[cfg(feature = "postgres")]
#[inline(always)]
fn pg_int(value: diesel::pg::PgValue<'_>) -> deserialize::Result<i64> {
    use deserialize::FromSql;
    use diesel::pg::Pg;
    use diesel::sql_types::{Integer, SmallInt};
    match value.as_bytes().len() {
        2 => <i16 as FromSql<SmallInt, Pg>>::from_sql(value).map(i64::from),
        4 => <i32 as FromSql<Integer, Pg>>::from_sql(value).map(i64::from),
        _ => <i64 as FromSql<BigInt, Pg>>::from_sql(value),
    }
}

/// `Dialect` for a concrete backend: `$walk` is its `Portable` method,
/// `$variant` its `MultiRawValue` variant, `$int` its integer decoding.
macro_rules! concrete_dialect {
    ($feature:literal, $backend:ty, $kind:ident, $walk:ident, $variant:ident, $int:expr) => {
        #[cfg(feature = $feature)]
        impl Dialect for $backend {
            fn kind(&self) -> BackendKind {
                BackendKind::$kind
            }

            #[inline(always)]
            fn raw<'a>(value: Self::RawValue<'a>) -> MultiRawValue<'a> {
                MultiRawValue::$variant(value)
            }

            #[inline(always)]
            fn int(value: Self::RawValue<'_>) -> deserialize::Result<i64> {
                $int(value)
            }

            fn walk_portable<'b>(
                piece: &'b dyn Portable,
                out: AstPass<'_, 'b, Self>,
            ) -> QueryResult<()> {
                piece.$walk(out)
            }

            fn walk_multi<'b>(
                _: &'b (dyn QueryFragment<MultiBackend> + Send + Sync),
                _: AstPass<'_, 'b, Self>,
            ) -> QueryResult<()> {
                Err(diesel::result::Error::QueryBuilderError(
                    concat!(
                        "a diesel expression of `MultiBackend` cannot render for ",
                        stringify!($kind),
                        " directly; run the query on the AnyConnection"
                    )
                    .into(),
                ))
            }

            fn bind_int<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b i64) -> QueryResult<()> {
                out.push_bind_param::<BigInt, i64>(value)
            }

            fn bind_text<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b str) -> QueryResult<()> {
                out.push_bind_param::<Text, str>(value)
            }
        }
    };
}

concrete_dialect!(
    "sqlite",
    diesel::sqlite::Sqlite,
    Sqlite,
    walk_sqlite,
    Sqlite,
    widened::<diesel::sqlite::Sqlite>
);
concrete_dialect!(
    "postgres",
    diesel::pg::Pg,
    Postgres,
    walk_postgres,
    Postgres,
    pg_int
);
concrete_dialect!(
    "mysql",
    diesel::mysql::Mysql,
    Mysql,
    walk_mysql,
    Mysql,
    widened::<diesel::mysql::Mysql>
);
