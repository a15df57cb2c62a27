//! What `#[derive(OrmEnum)]`'s one macro call expands to: `FromSql`,
//! `ToSql` (on `MultiBackend` and on each backend orm-core is built with)
//! and `AsExpression` for the enum's two storages, each calling the generic
//! code of `enums`; and [`Bind`], the expression a filter value becomes.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, TypedExpressionType,
    ValidGrouping,
};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Nullable, SqlType};
use diesel::QueryResult;

/// Everything a derived enum needs besides [`OrmEnum`]: for `Text` and
/// `Integer`, `FromSql` and `ToSql` on [`MultiBackend`](crate::MultiBackend)
/// and on each backend, and `AsExpression`.
#[doc(hidden)]
#[macro_export]
macro_rules! __orm_enum_impls {
    ($enum:ty) => {
        $crate::__enum_multi_backend!($enum, Text, text_from_sql, text_to_sql);
        $crate::__enum_multi_backend!($enum, Integer, int_from_sql, int_to_sql);
        $crate::__enum_as_expression!($enum, $crate::__private_v1::diesel::sql_types::Text);
        $crate::__enum_as_expression!($enum, $crate::__private_v1::diesel::sql_types::Integer);
        $crate::__enum_backend_to_sql!($enum);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __enum_multi_backend {
    ($enum:ty, $sql:ident, $from_sql:ident, $to_sql:ident) => {
        impl
            $crate::__private_v1::diesel::deserialize::FromSql<
                $crate::__private_v1::diesel::sql_types::$sql,
                $crate::MultiBackend,
            > for $enum
        {
            fn from_sql(
                bytes: <$crate::MultiBackend as $crate::__private_v1::diesel::backend::Backend>::RawValue<'_>,
            ) -> $crate::__private_v1::diesel::deserialize::Result<Self> {
                $crate::__private_v1::$from_sql(bytes)
            }
        }

        impl
            $crate::__private_v1::diesel::serialize::ToSql<
                $crate::__private_v1::diesel::sql_types::$sql,
                $crate::MultiBackend,
            > for $enum
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut $crate::__private_v1::diesel::serialize::Output<'b, '_, $crate::MultiBackend>,
            ) -> $crate::__private_v1::diesel::serialize::Result {
                $crate::__private_v1::$to_sql(self, out)
            }
        }
    };
}

/// `AsExpression<$sql>` (and against nullable columns) for a derived enum,
/// its references too, through [`Bind`].
#[doc(hidden)]
#[macro_export]
macro_rules! __enum_as_expression {
    ($enum:ty, $sql:ty) => {
        impl $crate::__private_v1::diesel::expression::AsExpression<$sql> for $enum {
            type Expression = $crate::__private_v1::Bind<$sql, Self>;
            fn as_expression(self) -> Self::Expression {
                $crate::__private_v1::Bind::new(self)
            }
        }

        impl<'__a> $crate::__private_v1::diesel::expression::AsExpression<$sql> for &'__a $enum {
            type Expression = $crate::__private_v1::Bind<$sql, Self>;
            fn as_expression(self) -> Self::Expression {
                $crate::__private_v1::Bind::new(self)
            }
        }

        impl
            $crate::__private_v1::diesel::expression::AsExpression<
                $crate::__private_v1::diesel::sql_types::Nullable<$sql>,
            > for $enum
        {
            type Expression = $crate::__private_v1::BindNullable<$sql, Self>;
            fn as_expression(self) -> Self::Expression {
                $crate::__private_v1::BindNullable::new(self)
            }
        }

        impl<'__a>
            $crate::__private_v1::diesel::expression::AsExpression<
                $crate::__private_v1::diesel::sql_types::Nullable<$sql>,
            > for &'__a $enum
        {
            type Expression = $crate::__private_v1::BindNullable<$sql, Self>;
            fn as_expression(self) -> Self::Expression {
                $crate::__private_v1::BindNullable::new(self)
            }
        }
    };
}

/// `ToSql` of a derived enum on each backend orm-core is built with (the
/// features are orm-core's, so the choice is made here, not in the
/// caller's crate).
#[doc(hidden)]
#[macro_export]
macro_rules! __enum_backend_to_sql {
    ($enum:ty) => {
        $crate::__if_postgres! { $crate::__enum_to_sql_on!($enum, $crate::__private_v1::diesel::pg::Pg); }
        $crate::__if_mysql! { $crate::__enum_to_sql_on!($enum, $crate::__private_v1::diesel::mysql::Mysql); }
        $crate::__if_sqlite! { $crate::__enum_to_sql_on!($enum, $crate::__private_v1::diesel::sqlite::Sqlite); }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __enum_to_sql_on {
    ($enum:ty, $db:ty) => {
        impl
            $crate::__private_v1::diesel::serialize::ToSql<
                $crate::__private_v1::diesel::sql_types::Text,
                $db,
            > for $enum
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut $crate::__private_v1::diesel::serialize::Output<'b, '_, $db>,
            ) -> $crate::__private_v1::diesel::serialize::Result {
                $crate::__private_v1::text_to_sql_on(self, out)
            }
        }

        impl
            $crate::__private_v1::diesel::serialize::ToSql<
                $crate::__private_v1::diesel::sql_types::Integer,
                $db,
            > for $enum
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut $crate::__private_v1::diesel::serialize::Output<'b, '_, $db>,
            ) -> $crate::__private_v1::diesel::serialize::Result {
                $crate::__private_v1::int_to_sql_on(self, out)
            }
        }
    };
}

/// Expands its input when orm-core has the `postgres` feature.
#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($t:tt)*) => { $($t)* };
}
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($t:tt)*) => {};
}

/// Expands its input when orm-core has the `mysql` feature.
#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($t:tt)*) => { $($t)* };
}
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($t:tt)*) => {};
}

/// Expands its input when orm-core has the `sqlite` feature.
#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($t:tt)*) => { $($t)* };
}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($t:tt)*) => {};
}

/// A derived enum bound as a parameter of SQL type `ST`: what a filter on
/// its column (`post::status.eq(Status::Draft)`) compares with.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Bind<ST, T> {
    value: T,
    _sql: PhantomData<ST>,
}

impl<ST, T> Bind<ST, T> {
    /// Binds `value`.
    pub fn new(value: T) -> Self {
        Bind {
            value,
            _sql: PhantomData,
        }
    }
}

impl<ST: SqlType + TypedExpressionType, T> Expression for Bind<ST, T> {
    type SqlType = ST;
}

impl<ST, T, DB> QueryFragment<DB> for Bind<ST, T>
where
    DB: Backend + HasSqlType<ST>,
    T: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

impl<ST: QueryId, T> QueryId for Bind<ST, T> {
    type QueryId = Bind<ST::QueryId, ()>;
    const HAS_STATIC_QUERY_ID: bool = ST::HAS_STATIC_QUERY_ID;
}

impl<ST, T, QS> AppearsOnTable<QS> for Bind<ST, T> where Self: Expression {}

impl<ST, T, QS> SelectableExpression<QS> for Bind<ST, T> where Self: AppearsOnTable<QS> {}

impl<ST, T, GB> ValidGrouping<GB> for Bind<ST, T> {
    type IsAggregate = is_aggregate::Never;
}

/// A derived enum compared with a nullable column (`Nullable<ST>`), bound
/// as `ST`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct BindNullable<ST, T>(Bind<ST, T>);

impl<ST, T> BindNullable<ST, T> {
    /// Binds `value`.
    pub fn new(value: T) -> Self {
        BindNullable(Bind::new(value))
    }
}

impl<ST, T> Expression for BindNullable<ST, T>
where
    ST: SqlType<IsNull = diesel::sql_types::is_nullable::NotNull>,
    Nullable<ST>: TypedExpressionType,
{
    type SqlType = Nullable<ST>;
}

impl<ST, T, DB> QueryFragment<DB> for BindNullable<ST, T>
where
    DB: Backend + HasSqlType<ST>,
    T: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl<ST: QueryId, T> QueryId for BindNullable<ST, T> {
    type QueryId = BindNullable<ST::QueryId, ()>;
    const HAS_STATIC_QUERY_ID: bool = ST::HAS_STATIC_QUERY_ID;
}

impl<ST, T, QS> AppearsOnTable<QS> for BindNullable<ST, T> where Self: Expression {}

impl<ST, T, QS> SelectableExpression<QS> for BindNullable<ST, T> where Self: AppearsOnTable<QS> {}

impl<ST, T, GB> ValidGrouping<GB> for BindNullable<ST, T> {
    type IsAggregate = is_aggregate::Never;
}
