//! `select_for_update`: lock the rows a queryset reads until the
//! transaction ends.

use super::QuerySet;
use crate::backend::{in_transaction, AnyConnection, BackendKind};
use crate::error::{OrmError, Result};
use crate::model::Model;
use crate::sql::{Distinct, RowLock};

impl<M: Model> QuerySet<M> {
    /// Locks the rows this queryset reads (`load`, `first`, `get`, `iter`,
    /// `values_list`, `values_as`, `annotate_count`) until the transaction
    /// ends: `SELECT … FOR UPDATE`, with `NOWAIT` or
    /// `SKIP LOCKED` as `lock` says. PostgreSQL locks the model's rows
    /// only (`FOR UPDATE OF`), not those `select_related` joins; MariaDB
    /// locks every row it reads. On SQLite it adds nothing: a write
    /// transaction locks the whole database ([`write_transaction`]
    /// takes that lock up front), so run it in one there too.
    ///
    /// Reading outside a transaction is `InvalidQuery` on every backend:
    /// the lock would end with the statement.
    ///
    /// [`write_transaction`]: crate::write_transaction
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String, pub uses: i32 }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_table::<Tag>(&mut conn)?;
    /// # Tag { name: "rust".into(), ..Default::default() }.save(&mut conn)?;
    /// let rust = Tag::objects().filter(tag::name.eq("rust")).select_for_update(RowLock::Wait);
    /// orm_core::write_transaction(&mut conn, |conn| {
    ///     let mut tag = rust.get(conn)?; // nobody else changes it until the commit
    ///     tag.uses += 1;
    ///     tag.save(conn)
    /// })?;
    /// assert!(rust.get(&mut conn).is_err()); // outside a transaction
    /// # Ok(()) }
    /// ```
    pub fn select_for_update(mut self, lock: RowLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// The row lock a select of this queryset takes with `distinct`, if
    /// any: `InvalidQuery` outside a transaction, and with a `DISTINCT`
    /// select (PostgreSQL refuses to lock one).
    pub(super) fn row_lock(
        &self,
        conn: &mut AnyConnection,
        distinct: &Distinct<'_>,
    ) -> Result<Option<(RowLock, BackendKind)>> {
        let Some(lock) = self.lock else {
            return Ok(None);
        };
        if !matches!(distinct, Distinct::No) {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: "select_for_update() on a DISTINCT select: PostgreSQL cannot lock rows it merged; read the distinct keys first, then lock the rows by key".into(),
            });
        }
        Ok(Some((lock, self.lock_backend(conn)?)))
    }

    /// The backend to lock on; `InvalidQuery` outside a transaction.
    fn lock_backend(&self, conn: &mut AnyConnection) -> Result<BackendKind> {
        if !in_transaction(conn)? {
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: "select_for_update() outside a transaction locks nothing; run it inside orm_core::write_transaction (or diesel's transaction)".into(),
            });
        }
        Ok(conn.backend())
    }
}
