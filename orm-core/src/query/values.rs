//! Rows that are not models: chosen columns (`values_list`) and
//! aggregates (`aggregate`), decoded into typed tuples.

use diesel::deserialize::{self, FromSql};
use diesel::expression::is_aggregate::{No, Yes};
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::query_builder::QueryFragment;

use super::QuerySet;
use crate::backend::row::{load_into, read, Collect, RawRow};
use crate::backend::{AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::model::Model;
use crate::sql::{Expressions, Order, Select};

/// A tuple of diesel expressions whose values decode into the tuple `T`
/// (one Rust type per expression, as diesel's `FromSql` allows): what
/// [`QuerySet::values_list`] and [`QuerySet::aggregate`] select. Written
/// for tuples of 1 to 6 expressions; a single one is `(column,)`.
pub trait Values<T>: QueryFragment<MultiBackend> + Send + Sync + 'static {
    /// Decodes one result row.
    #[doc(hidden)]
    fn decode(row: &dyn RawRow) -> deserialize::Result<T>;
}

macro_rules! values_tuple {
    ($($e:ident $t:ident $i:tt),+) => {
        impl<$($e, $t),+> Values<($($t,)+)> for ($($e,)+)
        where
            $($e: Expression + Send + Sync + 'static, $t: FromSql<$e::SqlType, MultiBackend>,)+
            ($($e,)+): QueryFragment<MultiBackend>,
        {
            fn decode(row: &dyn RawRow) -> deserialize::Result<($($t,)+)> {
                Ok(($(read::<$e::SqlType, $t, _>(row, $i)?,)+))
            }
        }
    };
}

values_tuple!(A TA 0);
values_tuple!(A TA 0, B TB 1);
values_tuple!(A TA 0, B TB 1, C TC 2);
values_tuple!(A TA 0, B TB 1, C TC 2, D TD 3);
values_tuple!(A TA 0, B TB 1, C TC 2, D TD 3, E TE 4);
values_tuple!(A TA 0, B TB 1, C TC 2, D TD 3, E TE 4, F TF 5);

impl<M: Model> QuerySet<M> {
    /// The rows with one more value each (`extra`, selected after the
    /// model's columns, decoded by `decode` at that position), prefetched
    /// and linked as peers as `load` does. Not with `select_related`.
    pub(crate) fn load_annotated<T>(
        &self,
        conn: &mut AnyConnection,
        extra: &(dyn QueryFragment<MultiBackend> + Send + Sync),
        decode: fn(&dyn RawRow, usize) -> deserialize::Result<T>,
    ) -> Result<Vec<(M, T)>>
    where
        T: 'static,
    {
        if self.joins.is_some() {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason:
                    "annotations do not combine with select_related yet; prefetch_related instead"
                        .into(),
            });
        }
        self.check(conn)?;
        let mut select = Select::new(M::meta(), &[], &self.filters, self.order())
            .sliced(self.limit, self.offset);
        select.extra = Some(extra);
        select.distinct = self.row_distinct();
        select.lock = self.row_lock(conn, &select.distinct)?;
        select.order_joins = &self.order_joins;
        let at = M::meta().columns.len();
        let rows = Collect::new(move |row: &dyn RawRow| {
            Ok(Some((M::from_row(row, 0)?, decode(row, at)?)))
        });
        let (mut models, values): (Vec<M>, Vec<T>) =
            load_into(conn, select, rows)?.rows.into_iter().unzip();
        M::link_peers(models.iter());
        self.eager_load(conn, &mut models)?;
        Ok(models.into_iter().zip(values).collect())
    }

    /// The values of `columns` (a tuple of columns or other per-row
    /// expressions of `M`'s table) for each row, in the queryset's
    /// ordering and slice: one query, no model built.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// Tag { name: "rust".into(), uses: 3, ..Default::default() }.save(&mut conn)?;
    /// let rows: Vec<(String, i32)> = Tag::objects().values_list(&mut conn, (tag::name, tag::uses))?;
    /// assert_eq!(rows, [("rust".to_string(), 3)]);
    /// # Ok(()) }
    /// ```
    pub fn values_list<E, T>(&self, conn: &mut AnyConnection, columns: E) -> Result<Vec<T>>
    where
        E: Values<T> + AppearsOnTable<M::Table> + ValidGrouping<(), IsAggregate = No>,
        T: 'static,
    {
        self.check_values(conn)?;
        let mut select = Select::new(M::meta(), &[], &self.filters, self.values_order())
            .sliced(self.limit, self.offset);
        select.distinct = self.distinct_sql();
        select.lock = self.row_lock(conn, &select.distinct)?;
        select.order_joins = &self.order_joins;
        let statement = Expressions {
            list: &columns,
            select,
        };
        let rows = Collect::new(|row: &dyn RawRow| E::decode(row).map(Some));
        Ok(load_into(conn, statement, rows)?.rows)
    }

    /// [`values_list`](QuerySet::values_list) into a type of the caller's
    /// built from each row's tuple (`S: From<T>`): Django's `values()` with
    /// a struct instead of a dict. One query, no model built.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// #[derive(Debug, PartialEq)]
    /// struct Usage { name: String, uses: i32 }
    ///
    /// impl From<(String, i32)> for Usage {
    ///     fn from((name, uses): (String, i32)) -> Self {
    ///         Usage { name, uses }
    ///     }
    /// }
    ///
    /// Tag { name: "rust".into(), uses: 3, ..Default::default() }.save(&mut conn)?;
    /// let rows: Vec<Usage> = Tag::objects().values_as(&mut conn, (tag::name, tag::uses))?;
    /// assert_eq!(rows, [Usage { name: "rust".into(), uses: 3 }]);
    /// # Ok(()) }
    /// ```
    pub fn values_as<S, E, T>(&self, conn: &mut AnyConnection, columns: E) -> Result<Vec<S>>
    where
        S: From<T>,
        E: Values<T> + AppearsOnTable<M::Table> + ValidGrouping<(), IsAggregate = No>,
        T: 'static,
    {
        Ok(self
            .values_list(conn, columns)?
            .into_iter()
            .map(S::from)
            .collect())
    }

    /// Aggregates over the queryset's rows (`count`, `sum`, `avg`, `min`,
    /// `max` from `diesel::dsl`, as a tuple): one query, one typed tuple.
    /// Aggregates of no rows are NULL (except counts): decode them into
    /// `Option`s. A sliced queryset is refused (aggregate a filter).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// # for (name, uses) in [("a", 2), ("b", 5)] { Tag { name: name.into(), uses, ..Default::default() }.save(&mut conn)?; }
    /// use diesel::dsl::{count_star, max};
    /// let (n, most): (i64, Option<i32>) = Tag::objects().aggregate(&mut conn, (count_star(), max(tag::uses)))?;
    /// assert_eq!((n, most), (2, Some(5)));
    /// # Ok(()) }
    /// ```
    pub fn aggregate<E, T>(&self, conn: &mut AnyConnection, aggregates: E) -> Result<T>
    where
        E: Values<T> + AppearsOnTable<M::Table> + ValidGrouping<(), IsAggregate = Yes>,
        T: 'static,
    {
        if self.limit.is_some() || self.offset.is_some() || self.distinct_on_terms().is_some() {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: "cannot aggregate a queryset with limit, offset or distinct_on; filter it instead"
                    .into(),
            });
        }
        let statement = Expressions {
            list: &aggregates,
            select: Select::new(M::meta(), &[], &self.filters, Order::Terms(&[])),
        };
        let rows = Collect::new(|row: &dyn RawRow| E::decode(row).map(Some));
        load_into(conn, statement, rows)?
            .rows
            .pop()
            .ok_or(OrmError::NotFound {
                model: M::meta().name,
            })
    }
}
