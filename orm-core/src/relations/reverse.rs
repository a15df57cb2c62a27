//! The reverse side of a foreign key: the [`RelatedManager`]
//! (`question.choices()`) and the reverse one-to-one accessor.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;
use diesel::sql_types::BoolOrNullableBool;
use foldhash::{HashSet, HashSetExt};

use super::descriptor::{ChildKey, ReverseRel};
use super::fill::{fill_reverse, keep_database_order, load_in};
use super::slot::{Declared, LazySlot};
use super::RelatedRows;
use crate::backend::{retry_write, written_now, AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::fetch::{resolve, FetchMode};
use crate::meta::{Key, KeyType};
use crate::model::{inherit_fetch_mode, Model};
use crate::query::QuerySet;

/// The manager of a reverse foreign key: `question.choices()`.
///
/// It borrows the instance and the relation's descriptor: building it
/// costs two pointer stores and allocates nothing.
/// `all` caches the rows in the slot (bound to the owner's key), `count`
/// and `exists` use the cache when it is filled.
pub struct RelatedManager<'a, O: Model, C: Model> {
    owner: &'a O,
    rel: &'a ReverseRel<O, C>,
}

/// A manager is two pointers: copying it copies them.
impl<O: Model, C: Model> Clone for RelatedManager<'_, O, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: Model, C: Model> Copy for RelatedManager<'_, O, C> {}

impl<'a, O: Model, C: Model> RelatedManager<'a, O, C> {
    /// Used by generated accessors.
    #[doc(hidden)]
    #[inline]
    pub fn new(owner: &'a O, rel: &'a ReverseRel<O, C>) -> Self {
        RelatedManager { owner, rel }
    }

    /// The children's foreign key to the owner.
    fn fk(&self) -> &'static dyn ChildKey<C> {
        self.rel.fk
    }

    /// The related rows in `C`'s default ordering: cached after the first
    /// call (one query), zero queries afterwards.
    #[inline(always)]
    pub fn all(&self, conn: &mut AnyConnection) -> Result<RelatedRows<'a, C>> {
        let key = self.owner_key();
        match self.published(key.as_ref()) {
            Some(rows) => Ok(rows),
            None => (*self).all_uncached(key, conn),
        }
    }

    /// `all` for rows not published in the instance: through the slot's
    /// lock, filled if needed (out of line: the published read stays a
    /// few instructions).
    #[inline(never)]
    fn all_uncached(
        self,
        key: Option<Key>,
        conn: &mut AnyConnection,
    ) -> Result<RelatedRows<'a, C>> {
        let key = Self::saved(key)?;
        self.slot().read(&key, self.declared(), |slots, batch| {
            fill_reverse(conn, self.fk(), slots, self.slot().mode(), batch)
        })
    }

    manager_cache_control!(C, C);

    /// How many related rows: from the cache, or one COUNT query.
    pub fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        let key = self.owner()?;
        match self.slot().cached(&key) {
            Some(rows) => Ok(rows.len() as i64),
            None => self.query()?.count(conn),
        }
    }

    /// Whether any related row exists: from the cache, or one query.
    pub fn exists(&self, conn: &mut AnyConnection) -> Result<bool> {
        let key = self.owner()?;
        match self.slot().cached(&key) {
            Some(rows) => Ok(!rows.is_empty()),
            None => self.query()?.exists(conn),
        }
    }

    /// A queryset over the related rows, to filter further (not cached);
    /// what it loads takes the owner's fetch mode.
    pub fn query(&self) -> Result<QuerySet<C>> {
        let owner = self.owner()?;
        let owner = std::slice::from_ref(&owner);
        Ok(QuerySet::new()
            .filter_keys(self.fk().meta().column, owner)
            .inherit_fetch_mode(self.slot().mode()))
    }

    /// The related rows matching `predicate` (a diesel expression on `C`'s
    /// table), as a queryset: `question.choices().filter(choice::votes.gt(0))?`.
    pub fn filter<E>(&self, predicate: E) -> Result<QuerySet<C>>
    where
        E: Expression
            + AppearsOnTable<C::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        Ok(self.query()?.filter(predicate))
    }

    /// The one related row matching `predicate` (one query); errors with
    /// `NotFound` or `MultipleFound`.
    pub fn get<E>(&self, conn: &mut AnyConnection, predicate: E) -> Result<C>
    where
        E: Expression
            + AppearsOnTable<C::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        self.filter(predicate)?.get(conn)
    }

    /// Makes `children` exactly the related rows (the foreign key must be
    /// nullable), in one transaction and without reading first: one UPDATE
    /// unlinking the owner's other children, one pointing `children` at
    /// the owner. The result is exact whatever the cache held; a child
    /// deleted meanwhile fails the call with [`OrmError::Missing`] and
    /// changes nothing. The cache then holds `children` (each once) in
    /// `C`'s default ordering.
    pub fn set(&self, conn: &mut AnyConnection, children: &mut [C]) -> Result<()>
    where
        C: Clone,
    {
        self.nullable("set")?;
        let key = self.owner()?;
        let wanted = pks_of(children)?;
        retry_write(conn, |conn| {
            let others = if wanted.len() > conn.backend().max_in_list() {
                // A `NOT IN` cannot be split into chunks: unlink every
                // child, `wanted` is linked again below.
                self.query()?
            } else {
                self.query()?
                    .exclude_keys(C::meta().primary_key().name, &wanted)
            };
            others.update_relation(conn, self.fk().meta().column, None)?;
            self.point_all(conn, &wanted, &key)
        })?;
        self.link_in_memory(children, &key);
        let mut rows = distinct(children);
        rows.sort_by(Model::cmp_default);
        self.slot()
            .put(key.clone(), Arc::new(rows), written_now(conn));
        keep_database_order::<C, _>(conn, self.slot(), &key);
        Ok(())
    }

    /// Saves `child` pointing at the owner (one INSERT) and adds it to a
    /// filled cache, in order.
    pub fn create(&self, conn: &mut AnyConnection, mut child: C) -> Result<C>
    where
        C: Clone,
    {
        let key = self.owner()?;
        self.fk().set_key(&mut child, Some(&key));
        inherit_fetch_mode(&child, self.slot().mode());
        child.save(conn)?;
        let pk = child.pk().map(|k| k.to_key());
        self.slot().edit(&key, &written_now(conn), |rows| {
            rows.retain(|r| r.pk().map(|k| k.to_key()) != pk);
            insert_sorted::<C, _>(rows, child.clone());
        });
        keep_database_order::<C, _>(conn, self.slot(), &key);
        Ok(child)
    }

    /// Points `children` at the owner (one UPDATE) and adds them to a filled
    /// cache, each once. A child deleted meanwhile fails the call with
    /// [`OrmError::Missing`], naming it, and changes nothing (database,
    /// cache and `children`).
    pub fn add(&self, conn: &mut AnyConnection, children: &mut [C]) -> Result<()>
    where
        C: Clone,
    {
        let key = self.owner()?;
        let pks = pks_of(children)?;
        retry_write(conn, |conn| self.point_all(conn, &pks, &key))?;
        self.link_in_memory(children, &key);
        let pks: HashSet<Key> = pks.into_iter().collect();
        self.slot().edit(&key, &written_now(conn), |rows| {
            rows.retain(|r| r.pk().is_none_or(|k| !pks.contains(&k.to_key())));
            for child in distinct(children) {
                insert_sorted::<C, _>(rows, child);
            }
        });
        keep_database_order::<C, _>(conn, self.slot(), &key);
        Ok(())
    }

    /// Unlinks `children` (one UPDATE setting the key to NULL); the foreign
    /// key must be nullable. A child that the database says belongs to
    /// another owner (or no longer exists) fails the call with
    /// [`OrmError::NotRelated`], naming it, and changes nothing (database,
    /// cache and `children`); one that is unlinked already stays so.
    pub fn remove(&self, conn: &mut AnyConnection, children: &mut [C]) -> Result<()>
    where
        C: Clone,
    {
        self.nullable("remove")?;
        let key = self.owner()?;
        let pks = pks_of(children)?;
        retry_write(conn, |conn| self.unlink_own(conn, &pks))?;
        for child in children.iter_mut() {
            self.fk().set_key(child, None);
        }
        let pks: HashSet<Key> = pks.into_iter().collect();
        self.slot().edit(&key, &written_now(conn), |rows| {
            rows.retain(|r| r.pk().is_none_or(|k| !pks.contains(&k.to_key())))
        });
        Ok(())
    }

    /// Unlinks every related row (one UPDATE); the cache becomes empty.
    pub fn clear(&self, conn: &mut AnyConnection) -> Result<()> {
        self.nullable("clear")?;
        let key = self.owner()?;
        self.query()?
            .update_relation(conn, self.fk().meta().column, None)?;
        self.slot()
            .put(key, Arc::new(Vec::new()), written_now(conn));
        Ok(())
    }

    /// Sets the foreign key of the rows of `rows` whose key is in `pks` to
    /// `key`: one UPDATE per IN-list chunk (none for no rows).
    fn point(
        &self,
        conn: &mut AnyConnection,
        rows: QuerySet<C>,
        pks: &[Key],
        key: Option<Key>,
    ) -> Result<usize> {
        let pk = C::meta().primary_key().name;
        let mut updated = 0;
        for chunk in pks.chunks(conn.backend().max_in_list()) {
            updated += rows.clone().filter_keys(pk, chunk).update_relation(
                conn,
                self.fk().meta().column,
                key.clone(),
            )?;
        }
        Ok(updated)
    }

    /// Points the rows with keys `pks` (distinct) at `key`; fails with
    /// `Missing`, naming them, when some do not exist (the caller's
    /// transaction then rolls back).
    fn point_all(&self, conn: &mut AnyConnection, pks: &[Key], key: &Key) -> Result<()> {
        let updated = self.point(conn, QuerySet::new(), pks, Some(key.clone()))?;
        if updated == pks.len() {
            return Ok(());
        }
        let pk = C::meta().primary_key().name;
        let found: HashSet<Key> = load_in::<C>(conn, pk, pks)?
            .iter()
            .filter_map(|r| r.pk().map(|k| k.to_key()))
            .collect();
        Err(OrmError::Missing {
            model: C::meta().name,
            keys: pks
                .iter()
                .filter(|k| !found.contains(*k))
                .map(Key::to_string)
                .collect(),
        })
    }

    /// Unlinks the rows with keys `pks` (distinct) from the owner; fails
    /// with `NotRelated`, naming them, when some are linked to another
    /// owner or do not exist (the caller's transaction then rolls back).
    /// Only a short count costs the check's query.
    fn unlink_own(&self, conn: &mut AnyConnection, pks: &[Key]) -> Result<()> {
        let updated = self.point(conn, self.query()?, pks, None)?;
        if updated == pks.len() {
            return Ok(());
        }
        let pk = C::meta().primary_key().name;
        let unlinked: HashSet<Key> = load_in::<C>(conn, pk, pks)?
            .iter()
            .filter(|r| self.fk().key(r).is_none())
            .filter_map(|r| r.pk().map(|k| k.to_key()))
            .collect();
        if unlinked.len() == pks.len() {
            return Ok(());
        }
        Err(OrmError::NotRelated {
            model: C::meta().name,
            owner: self.fk().meta().target(),
            keys: pks
                .iter()
                .filter(|k| !unlinked.contains(*k))
                .map(Key::to_string)
                .collect(),
        })
    }

    /// Sets the foreign key of `children` to `key`, in memory.
    fn link_in_memory(&self, children: &mut [C], key: &Key) {
        for child in children.iter_mut() {
            self.fk().set_key(child, Some(key));
        }
    }

    fn nullable(&self, op: &str) -> Result<()> {
        let rel = self.fk().meta();
        if rel.nullable {
            Ok(())
        } else {
            Err(OrmError::InvalidQuery {
                model: C::meta().name,
                reason: format!(
                    "{op}() would set {}.{} to NULL, but it is not nullable; delete the rows or point them elsewhere",
                    rel.model, rel.field
                ),
            })
        }
    }
}

/// The distinct keys of `rows`, in order; `Unsaved` if one has none.
fn pks_of<M: Model>(rows: &[M]) -> Result<Vec<Key>> {
    let mut seen = HashSet::new();
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let key = row.pk().map(|k| k.to_key()).ok_or(OrmError::Unsaved {
            model: M::meta().name,
        })?;
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Clones of `rows` without repeats (the first of each key).
fn distinct<M: Model + Clone>(rows: &[M]) -> Vec<M> {
    let mut seen = HashSet::new();
    rows.iter()
        .filter(|r| r.pk().is_none_or(|k| seen.insert(k.to_key())))
        .cloned()
        .collect()
}

/// Inserts `row` into `rows` (sorted in `M`'s default ordering) after
/// the rows it does not sort before.
pub(crate) fn insert_sorted<M: Model, R: Borrow<M>>(rows: &mut Vec<R>, row: R) {
    let at = rows
        .iter()
        .position(|r| row.borrow().cmp_default(r.borrow()) == Ordering::Less)
        .unwrap_or(rows.len());
    rows.insert(at, row);
}

/// The row a reverse one-to-one loaded: dereferences to it.
pub struct One<C> {
    rows: Arc<Vec<C>>,
}

impl<C> std::ops::Deref for One<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.rows[0]
    }
}

impl<C: fmt::Debug> fmt::Debug for One<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

fn one<C>(rows: Arc<Vec<C>>) -> Option<One<C>> {
    (!rows.is_empty()).then_some(One { rows })
}

/// The reverse side of a one-to-one (`user.profile(&mut conn)?`), used by
/// the generated accessor. A missing row is cached as `None`, so it is not
/// queried again. Under PEERS the first access loads it for every live
/// peer in one query; under RAISE it fails with `FetchBlocked`.
#[doc(hidden)]
pub fn reverse_one<O: Model, C: Model>(
    conn: &mut AnyConnection,
    owner: &O,
    field: &'static str,
    rel: &'static ReverseRel<O, C>,
) -> Result<Option<One<C>>> {
    let model = O::meta();
    let slot: &LazySlot<C> = (rel.slot)(owner);
    let Some(key) = rel.owner_key(owner) else {
        return Ok(None);
    };
    if let Some(rows) = slot.get(&key) {
        return Ok(one(rows));
    }
    // Unlike a manager's explicit `all()`, touching the accessor is what
    // RAISE refuses.
    let mode = slot.mode();
    if resolve(mode, model.fetch_mode) == FetchMode::Raise {
        return Err(OrmError::FetchBlocked {
            model: model.name,
            field,
        });
    }
    let declared = Declared {
        mode: model.fetch_mode,
        model: model.name,
        field,
    };
    let rows = slot.get_or_fill(&key, declared, |slots, batch| {
        fill_reverse(conn, rel.fk, slots, mode, batch)
    })?;
    Ok(one(rows))
}
