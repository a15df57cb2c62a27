//! The everyday calls built on a queryset's `get`, `first` and `load`:
//! `last`, `earliest` / `latest`, `in_bulk`, `get_or_create`,
//! `update_or_create`, and `bulk_update`.

use std::collections::HashMap;

use diesel::expression::{AppearsOnTable, Expression};
use diesel::helper_types::{Asc, Desc, IsNotNull};
use diesel::query_builder::QueryFragment;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Bool;
use diesel::ExpressionMethods;

use super::order::order_terms;
use super::QuerySet;
use crate::backend::{
    in_transaction, retry_write, write_transaction, AnyConnection, BackendKind, MultiBackend,
};
use crate::error::{OrmError, Result};
use crate::meta::OrderTerm;
use crate::model::{inherit_fetch_mode, update_fields, Model};
use crate::sql::RowLock;

impl<M: Model> QuerySet<M> {
    /// The row with the smallest `column` (one query); `NotFound` when
    /// there is none. Rows where `column` is NULL are left out (the
    /// backends disagree on where NULL sorts; Django leaves that to the
    /// database).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// # for name in ["b", "a", "c"] { Tag { name: name.into(), ..Default::default() }.save(&mut conn)?; }
    /// assert_eq!(Tag::objects().earliest(&mut conn, tag::name)?.name, "a");
    /// assert_eq!(Tag::objects().latest(&mut conn, tag::name)?.name, "c");
    /// # Ok(()) }
    /// ```
    pub fn earliest<C>(&self, conn: &mut AnyConnection, column: C) -> Result<M>
    where
        C: ExpressionMethods + Clone,
        Asc<C>: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        IsNotNull<C>: Expression<SqlType = Bool>
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.unsliced_for("earliest")?;
        self.clone()
            .filter(column.clone().is_not_null())
            .order_by(column.asc())
            .first_or_not_found(conn)
    }

    /// The row with the largest `column` (one query); `NotFound` when
    /// there is none. See [`earliest`](Self::earliest).
    pub fn latest<C>(&self, conn: &mut AnyConnection, column: C) -> Result<M>
    where
        C: ExpressionMethods + Clone,
        Desc<C>: Expression
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        IsNotNull<C>: Expression<SqlType = Bool>
            + AppearsOnTable<M::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
    {
        self.unsliced_for("latest")?;
        self.clone()
            .filter(column.clone().is_not_null())
            .order_by(column.desc())
            .first_or_not_found(conn)
    }

    /// The last row in the model's default ordering (by key when it has
    /// none, or after `unordered`), or `None`: the first of the reversed ordering, one query.
    /// A custom `order_by` cannot be reversed here (diesel's ordering
    /// expressions are opaque): order the other way and call `first`.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "name")]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// # for name in ["b", "c", "a"] { Tag { name: name.into(), ..Default::default() }.save(&mut conn)?; }
    /// assert_eq!(Tag::objects().last(&mut conn)?.map(|t| t.name).as_deref(), Some("c"));
    /// assert!(Tag::objects().order_by(tag::id).last(&mut conn).is_err());
    /// # Ok(()) }
    /// ```
    pub fn last(&self, conn: &mut AnyConnection) -> Result<Option<M>> {
        self.unsliced_for("last")?;
        let meta = M::meta();
        let ordering = match &self.ordering {
            None => meta.ordering,
            Some(terms) if terms.is_empty() => &[],
            Some(_) => {
                return Err(OrmError::InvalidQuery {
                    model: meta.name,
                    reason: "last() reverses the model's default ordering only; with order_by, order the other way and call first()".into(),
                })
            }
        };
        // No ordering (or unordered): by descending key.
        let by_key = [OrderTerm {
            column: meta.primary_key().name,
            descending: false,
        }];
        let ordering = if ordering.is_empty() {
            &by_key[..]
        } else {
            ordering
        };
        let reversed = order_terms::<M>(ordering, true);
        let mut query = self.clone();
        query.ordering = Some(reversed);
        query.default_terms = 0;
        query.first(conn)
    }

    /// Refuses a sliced queryset, or one with `distinct_on`, for a call
    /// that reorders or splits it: the slice would then select other rows
    /// (Django refuses these too), and `DISTINCT ON` keep another row of
    /// each group.
    fn unsliced_for(&self, call: &str) -> Result<()> {
        let reason = if self.limit.is_some() || self.offset.is_some() {
            format!("{call}() on a queryset with limit or offset would apply the slice to other rows; call {call}() before slicing, or load the slice and pick from it")
        } else if self.distinct_on_terms().is_some() {
            format!("{call}() on a queryset with distinct_on would keep other rows of each group than its ordering does; load the queryset and pick from it")
        } else {
            return Ok(());
        };
        Err(OrmError::InvalidQuery {
            model: M::meta().name,
            reason,
        })
    }

    fn first_or_not_found(&self, conn: &mut AnyConnection) -> Result<M> {
        self.first(conn)?.ok_or(OrmError::NotFound {
            model: M::meta().name,
        })
    }

    /// The rows of this queryset whose key is one of `keys`, by key: one
    /// query per IN-list chunk (see `BackendKind::max_in_list`). Keys
    /// without a row are left out. A sliced queryset is
    /// `OrmError::InvalidQuery` (the slice would apply per chunk), as for
    /// `last`, `earliest` and `latest`.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let mut rust = Tag { name: "rust".into(), ..Default::default() };
    /// rust.save(&mut conn)?;
    /// let id = rust.id.unwrap_or_default();
    /// let found = Tag::objects().in_bulk(&mut conn, &[id, id + 100])?;
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[&id].name, "rust");
    /// # Ok(()) }
    /// ```
    pub fn in_bulk(&self, conn: &mut AnyConnection, keys: &[M::Key]) -> Result<HashMap<M::Key, M>> {
        self.unsliced_for("in_bulk")?;
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(conn.backend().max_in_list()) {
            for row in self.clone().filter_pks(chunk).load(conn)? {
                if let Some(key) = row.pk() {
                    found.insert(key, row);
                }
            }
        }
        Ok(found)
    }

    /// The one row of this queryset, or `create()` inserted: `(row,
    /// created)`. The filter should name a unique column (or
    /// `unique_together`) and `create` build a row it matches: then two
    /// callers racing both get the same row. The loser's INSERT hits the
    /// unique constraint inside a savepoint, and it reads the winner's
    /// row (inside a transaction on MySQL, with a locking read: a plain
    /// one would see the transaction's older snapshot). An INSERT refused
    /// by a unique constraint when that second read finds no row (another
    /// unique column holds the value, or `create` built a row the filter
    /// does not match) returns the database's unique-violation error.
    /// Queries: one when the row exists; the SELECT and the INSERT when
    /// it is created; a second SELECT after a lost race.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, #[orm(unique)] pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let rust = || Tag { name: "rust".into(), ..Default::default() };
    /// let (first, created) = Tag::objects().filter(tag::name.eq("rust")).get_or_create(&mut conn, rust)?;
    /// assert!(created);
    /// let (again, created) = Tag::objects().filter(tag::name.eq("rust")).get_or_create(&mut conn, rust)?;
    /// assert!(!created);
    /// assert_eq!(again.id, first.id);
    /// # Ok(()) }
    /// ```
    pub fn get_or_create(
        &self,
        conn: &mut AnyConnection,
        create: impl FnOnce() -> M,
    ) -> Result<(M, bool)> {
        match self.get(conn) {
            Err(OrmError::NotFound { .. }) => {}
            found => return found.map(|row| (row, false)),
        }
        match self.insert_created(conn, create)? {
            Ok(row) => Ok((row, true)),
            Err(violation) => match self.winner(conn) {
                Ok(row) => Ok((row, false)),
                // Another unique column (or a row the filter does not
                // match) refused it: that is the error (Django's too).
                Err(OrmError::NotFound { .. }) => Err(violation),
                Err(e) => Err(e),
            },
        }
    }

    /// Inserts `create()` for this queryset (it takes the queryset's fetch
    /// mode, as a row it finds): `Ok(Err(violation))` when a unique
    /// constraint refused it (a racing caller's row won, or another
    /// unique column holds a value of it).
    fn insert_created(
        &self,
        conn: &mut AnyConnection,
        create: impl FnOnce() -> M,
    ) -> Result<std::result::Result<M, OrmError>> {
        let mut row = create();
        inherit_fetch_mode(&row, self.fetch_mode);
        match write_transaction(conn, |conn| row.insert(conn)) {
            Ok(()) => Ok(Ok(row)),
            Err(
                violation @ OrmError::Database(DieselError::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    _,
                )),
            ) => Ok(Err(violation)),
            Err(e) => Err(e),
        }
    }

    /// The row a racing caller inserted first. Inside a transaction on
    /// MySQL (REPEATABLE READ), a plain read sees the transaction's
    /// snapshot, taken before that row was committed: a locking read sees
    /// the latest committed rows (and keeps the row locked until the
    /// transaction ends).
    fn winner(&self, conn: &mut AnyConnection) -> Result<M> {
        if conn.backend() == BackendKind::Mysql && in_transaction(conn)? {
            self.clone().select_for_update(RowLock::Wait).get(conn)
        } else {
            self.get(conn)
        }
    }

    /// Saves `fields` (field names) of `rows` (saved instances) with one
    /// `UPDATE … SET field = CASE key WHEN … END` per chunk that fits the
    /// bind limit, all in one transaction; returns how many rows matched.
    /// An unknown field or the key is `InvalidQuery`, naming the fields
    /// accepted; an unsaved row is `Unsaved`. The queryset's filters do
    /// not apply (as Django's).
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let mut tags = vec![Tag { name: "a".into(), ..Default::default() }, Tag { name: "b".into(), ..Default::default() }];
    /// Tag::objects().bulk_create(&mut conn, &mut tags)?;
    /// tags.iter_mut().for_each(|t| t.uses = 7);
    /// assert_eq!(Tag::objects().bulk_update(&mut conn, &tags, &["uses"])?, 2);
    /// assert_eq!(Tag::objects().filter(tag::uses.eq(7)).count(&mut conn)?, 2);
    /// # Ok(()) }
    /// ```
    pub fn bulk_update(
        &self,
        conn: &mut AnyConnection,
        rows: &[M],
        fields: &[&str],
    ) -> Result<usize> {
        retry_write(conn, |conn| update_fields(conn, rows, fields))
    }

    /// Updates the one row of this queryset with `update` and saves it,
    /// or inserts `create()` when there is none: `(row, created)`.
    ///
    /// The row is read with `select_for_update` and saved in one write
    /// transaction (as Django's; at `READ COMMITTED` on MySQL when it is
    /// the outermost one), so two calls at once update it one after the
    /// other, the second seeing the first's write (`uses += 1` twice adds
    /// 2). After a deadlock the transaction runs again with the row read
    /// again, so `update` may run more than once. A creation is settled
    /// as in [`get_or_create`](Self::get_or_create), outside that
    /// transaction: the loser of a race updates the winner's row, as
    /// above. A lock the queryset chose (`NoWait`, `SkipLocked`) is kept
    /// for that read; a `distinct_on` queryset cannot be locked, so its
    /// row is read and saved without a lock (the last of two updates at
    /// once wins). Inside your own transaction on MySQL, its level
    /// applies: at REPEATABLE READ, reading a missing row takes a gap
    /// lock, and two creations side by side may deadlock.
    ///
    /// Queries: 2 when the row exists (the locked read, the write); 2
    /// when it is created (3 on MySQL for an auto-increment key); 2 more
    /// after a lost race; plus one per `prefetch_related` path read.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, #[orm(unique)] pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// let rust = Tag::objects().filter(tag::name.eq("rust"));
    /// let new = || Tag { name: "rust".into(), uses: 1, ..Default::default() };
    /// let (_, created) = rust.update_or_create(&mut conn, |t| t.uses += 1, new)?;
    /// assert!(created);
    /// let (tag, created) = rust.update_or_create(&mut conn, |t| t.uses += 1, new)?;
    /// assert!(!created);
    /// assert_eq!(tag.uses, 2);
    /// # Ok(()) }
    /// ```
    pub fn update_or_create(
        &self,
        conn: &mut AnyConnection,
        mut update: impl FnMut(&mut M),
        create: impl FnOnce() -> M,
    ) -> Result<(M, bool)> {
        let locked = match (self.distinct_on_terms(), self.lock) {
            (Some(_), _) | (_, Some(_)) => self.clone(),
            (None, None) => self.clone().select_for_update(RowLock::Wait),
        };
        // The row, read locked, updated and saved; `None` when there is none.
        let mut update_locked = |conn: &mut AnyConnection| {
            retry_write(conn, |conn| match locked.get(conn) {
                Ok(mut row) => {
                    update(&mut row);
                    row.save(conn)?;
                    Ok(Some(row))
                }
                Err(OrmError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            })
        };
        if let Some(row) = update_locked(conn)? {
            return Ok((row, false));
        }
        match self.insert_created(conn, create)? {
            Ok(row) => Ok((row, true)),
            // A racing caller created it: update theirs. None found: the
            // violation is another unique column's (as `get_or_create`).
            Err(violation) => match update_locked(conn)? {
                Some(row) => Ok((row, false)),
                None => Err(violation),
            },
        }
    }
}
