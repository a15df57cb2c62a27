//! Many-to-many relations: the [`ManyToManyManager`] (`user.groups()`, or
//! `group.users()` from the other side) over a through model.

use std::borrow::Borrow;
use std::sync::Arc;

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;
use diesel::sql_types::BoolOrNullableBool;
use foldhash::{HashSet, HashSetExt};

use super::descriptor::ManyToManyRel;
use super::fill::{fill_many_to_many, keep_database_order};
use super::reverse::insert_sorted;
use super::slot::LazySlot;
use super::through::{linked_to, Links};
use super::RelatedRows;
use crate::backend::{retry_write, written_now, AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::meta::Key;
use crate::model::{inherit_fetch_mode, LinkSide, Model};
use crate::query::QuerySet;

/// The manager of a many-to-many relation: `user.groups()`, or its reverse
/// side `group.users()`.
///
/// Reads: `all` costs two queries the first time (the links, then the
/// targets in their default ordering) and none afterwards. Writes keep a
/// filled cache exact and ordered; see each method for its query count.
pub struct ManyToManyManager<'a, O: Model, T: Model> {
    owner: &'a O,
    rel: &'a ManyToManyRel<O, T>,
}

/// A manager is two pointers: copying it copies them.
impl<O: Model, T: Model> Clone for ManyToManyManager<'_, O, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: Model, T: Model> Copy for ManyToManyManager<'_, O, T> {}

impl<'a, O: Model, T: Model + Clone> ManyToManyManager<'a, O, T> {
    /// Used by generated accessors.
    #[doc(hidden)]
    #[inline]
    pub fn new(owner: &'a O, rel: &'a ManyToManyRel<O, T>) -> Self {
        ManyToManyManager { owner, rel }
    }

    /// The links, seen from the owner.
    fn links(&self) -> &'static dyn Links<T> {
        self.rel.through
    }

    fn target_key(&self, target: &T) -> Result<Key> {
        self.links().target_key(target).ok_or(OrmError::Unsaved {
            model: T::meta().name,
        })
    }

    /// The related rows in `T`'s default ordering: two queries the first
    /// time, cached in the instance afterwards (zero queries). Each row is
    /// an `Arc<T>`, shared with the other owners one load filled (a
    /// prefetch, a PEERS batch) that link to it.
    ///
    /// ```
    /// # use orm_core::prelude::*;
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # pub struct Question { #[orm(primary_key)] pub id: Option<i64>,
    /// #     pub tags: ManyToMany<Tag> }
    /// # #[derive(Model, Debug, Clone, Default)]
    /// # #[orm(ordering = "name")]
    /// # pub struct Tag { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
    /// # fn main() -> orm_core::Result<()> {
    /// # let db = Db::connect("sqlite::memory:")?;
    /// # let mut conn = db.get()?;
    /// # orm_core::schema::create_tables(&mut conn, &[Question::meta(), Tag::meta()])?;
    /// let mut q = Question::default();
    /// q.save(&mut conn)?;
    /// let rust = q.tags().create(&mut conn, Tag { name: "rust".into(), ..Default::default() })?;
    /// let tags = q.tags().all(&mut conn)?; // the cache create filled: no query
    /// assert_eq!(tags[0].name, "rust");
    /// let mut other = Question::default();
    /// other.save(&mut conn)?;
    /// other.tags().set(&mut conn, &tags)?; // rows read go back as they are
    /// assert_eq!(other.tags().all(&mut conn)?[0].id, rust.id);
    /// # Ok(()) }
    /// ```
    #[inline(always)]
    pub fn all(&self, conn: &mut AnyConnection) -> Result<RelatedRows<'a, Arc<T>>> {
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
    ) -> Result<RelatedRows<'a, Arc<T>>> {
        let key = Self::saved(key)?;
        self.slot().read(&key, self.declared(), |slots, batch| {
            let mode = self.slot().mode();
            fill_many_to_many(conn, self.links(), slots, mode, batch)
        })
    }

    manager_cache_control!(T, Arc<T>);

    /// How many related rows: from the cache, or one COUNT query.
    pub fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        let key = self.owner()?;
        match self.slot().cached(&key) {
            Some(rows) => Ok(rows.len() as i64),
            None => self.links().count(conn, &key),
        }
    }

    /// Whether any row is related: from the cache, or one query.
    pub fn exists(&self, conn: &mut AnyConnection) -> Result<bool> {
        let key = self.owner()?;
        match self.slot().cached(&key) {
            Some(rows) => Ok(!rows.is_empty()),
            None => self.links().exists(conn, &key),
        }
    }

    /// A queryset over the related rows, to filter further (not cached):
    /// the rows linked when it runs, through one subquery on the link
    /// table (no query to build it). What it loads takes the owner's
    /// fetch mode.
    pub fn query(&self) -> Result<QuerySet<T>> {
        let owner = self.owner()?;
        Ok(QuerySet::new()
            .with_filter(linked_to(self.links(), std::slice::from_ref(&owner)))
            .inherit_fetch_mode(self.slot().mode()))
    }

    /// The one related row matching `predicate`; errors with `NotFound` or
    /// `MultipleFound`.
    pub fn get<E>(&self, conn: &mut AnyConnection, predicate: E) -> Result<T>
    where
        E: Expression
            + AppearsOnTable<T::Table>
            + QueryFragment<MultiBackend>
            + Send
            + Sync
            + 'static,
        E::SqlType: BoolOrNullableBool,
    {
        self.query()?.filter(predicate).get(conn)
    }

    /// Saves `target` (one INSERT, or its write if it has a key) and
    /// links it (one INSERT skipping a link that exists), in one
    /// transaction; a filled cache gets it, in order, in place of a row
    /// with its key.
    pub fn create(&self, conn: &mut AnyConnection, mut target: T) -> Result<T> {
        let key = self.owner()?;
        inherit_fetch_mode(&target, self.slot().mode());
        let k = retry_write(conn, |conn| {
            target.save(conn)?;
            let k = self.target_key(&target)?;
            self.links().link(conn, &key, std::slice::from_ref(&k))?;
            Ok(k)
        })?;
        self.forget_other_side(std::iter::once(&target));
        self.slot().edit(&key, &written_now(conn), |rows| {
            rows.retain(|row| self.target_key(row).ok().as_ref() != Some(&k));
            insert_sorted::<T, _>(rows, Arc::new(target.clone()))
        });
        keep_database_order::<T, _>(conn, self.slot(), &key);
        Ok(target)
    }

    /// Drops what the other side of the relation caches on each of
    /// `targets` (their rows back to owners): a write changed their links.
    /// Other instances of those rows are the caller's, as in Django.
    fn forget_other_side<'t>(&self, targets: impl Iterator<Item = &'t T>)
    where
        T: 't,
    {
        forget_other_side(self.links(), targets);
    }

    /// [`forget_other_side`](Self::forget_other_side) for the rows the
    /// owner's cache holds (all unlinked by `clear`, some by `set`).
    fn forget_cached_other_side(&self, key: &Key) {
        if let Some(rows) = self.slot().cached(key) {
            self.forget_other_side(rows.iter().map(|row| &**row));
        }
    }

    /// The distinct keys of `targets`, in order.
    fn keys_of(&self, targets: &[impl Borrow<T>]) -> Result<Vec<Key>> {
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(targets.len());
        for t in targets {
            let k = self.target_key(t.borrow())?;
            if seen.insert(k.clone()) {
                keys.push(k);
            }
        }
        Ok(keys)
    }

    /// Links `targets` (saved rows): one INSERT that skips the links that
    /// exist already, so it is idempotent and exact whatever the cache
    /// holds (another instance may have linked or unlinked meanwhile). A
    /// filled cache gets the rows it lacks, in order.
    ///
    /// `targets` are rows or the `Arc`s `all()` returns: an `Arc` joins
    /// the cache as it is (shared), a row is copied into one.
    pub fn add<R>(&self, conn: &mut AnyConnection, targets: &[R]) -> Result<()>
    where
        R: Borrow<T> + Clone + Into<Arc<T>>,
    {
        let key = self.owner()?;
        let wanted = self.keys_of(targets)?;
        retry_write(conn, |conn| self.links().link(conn, &key, &wanted))?;
        self.forget_other_side(targets.iter().map(Borrow::borrow));
        let mut added: Vec<Arc<T>> = Vec::new();
        self.slot().edit(&key, &written_now(conn), |rows| {
            let mut cached: HashSet<Key> = rows
                .iter()
                .filter_map(|r| self.target_key(r).ok())
                .collect();
            for t in targets {
                if let Ok(k) = self.target_key(t.borrow()) {
                    if cached.insert(k) {
                        let row: Arc<T> = t.clone().into();
                        insert_sorted::<T, _>(rows, Arc::clone(&row));
                        added.push(row);
                    }
                }
            }
        });
        // The rows just cached that are in no peer group (copies) become
        // one, so they load their relations together as a query's rows
        // would; rows in a group keep theirs.
        T::link_peers(added.iter().map(|r| &**r));
        if !added.is_empty() {
            keep_database_order::<T, _>(conn, self.slot(), &key);
        }
        Ok(())
    }

    /// Unlinks `targets`: one DELETE. A filled cache loses them.
    pub fn remove(&self, conn: &mut AnyConnection, targets: &[impl Borrow<T>]) -> Result<()> {
        let key = self.owner()?;
        let keys = self.keys_of(targets)?;
        retry_write(conn, |conn| self.links().unlink(conn, &key, Some(&keys)))?;
        self.forget_other_side(targets.iter().map(Borrow::borrow));
        let keys: HashSet<Key> = keys.into_iter().collect();
        // The cache's own instances of them too (shared with other owners;
        // `targets` may be other instances of the same rows).
        if let Some(rows) = self.slot().cached(&key) {
            let removed = rows
                .iter()
                .filter(|row| self.target_key(row).is_ok_and(|k| keys.contains(&k)));
            self.forget_other_side(removed.map(|row| &**row));
        }
        self.slot().edit(&key, &written_now(conn), |rows| {
            rows.retain(|r| self.target_key(r).map_or(true, |k| !keys.contains(&k)))
        });
        Ok(())
    }

    /// Caches "no related rows" for an owner just inserted (on `conn`,
    /// tied to its transaction), so a following `add` keeps the cache.
    pub(crate) fn cache_none(&self, conn: &mut AnyConnection) {
        if let Some(key) = self.owner_key() {
            self.slot()
                .put(key.clone(), Arc::new(Vec::new()), written_now(conn));
        }
    }

    /// Unlinks everything: one DELETE. The cache is filled with nothing, so
    /// the next `all` costs no query.
    pub fn clear(&self, conn: &mut AnyConnection) -> Result<()> {
        let key = self.owner()?;
        self.links().unlink(conn, &key, None)?;
        self.forget_cached_other_side(&key);
        self.slot()
            .put(key, Arc::new(Vec::new()), written_now(conn));
        Ok(())
    }

    /// Makes `targets` exactly the related rows, in one transaction and
    /// without reading first: one DELETE of the owner's other links, then
    /// one INSERT of `targets` that skips the links that exist. The result
    /// is exact whatever the cache held. Afterwards the cache holds exactly
    /// `targets` in `T`'s default ordering, so the next `all` costs no
    /// query. On error the database and the cache are left as they were.
    /// `targets` are rows or `Arc`s, as for [`add`](Self::add).
    pub fn set<R>(&self, conn: &mut AnyConnection, targets: &[R]) -> Result<()>
    where
        R: Borrow<T> + Clone + Into<Arc<T>>,
    {
        let key = self.owner()?;
        let wanted = self.keys_of(targets)?;
        retry_write(conn, |conn| {
            self.links().unlink_except(conn, &key, &wanted)?;
            self.links().link(conn, &key, &wanted)
        })?;
        self.forget_cached_other_side(&key);
        self.forget_other_side(targets.iter().map(Borrow::borrow));
        let mut seen = HashSet::new();
        let mut rows: Vec<Arc<T>> = targets
            .iter()
            .filter(|t| self.target_key((*t).borrow()).is_ok_and(|k| seen.insert(k)))
            .map(|t| t.clone().into())
            .collect();
        rows.sort_by(|a, b| a.cmp_default(b));
        // As in `add`: the cached rows are one peer group.
        T::link_peers(rows.iter().map(|r| &**r));
        self.slot()
            .put(key.clone(), Arc::new(rows), written_now(conn));
        keep_database_order::<T, _>(conn, self.slot(), &key);
        Ok(())
    }
}

/// Drops what the other side of the many-to-many `mine` caches on each of
/// `targets`: the to-many fields of theirs that read the same link table
/// from the target's column.
pub(super) fn forget_other_side<'t, T: Model>(
    mine: &dyn LinkSide,
    targets: impl Iterator<Item = &'t T>,
) {
    for target in targets {
        let mut index = 0;
        while let Some(r) = target.relation(index) {
            let other_side = r.links.is_some_and(|side| {
                side.link_table() == mine.link_table()
                    && side.owner_column() == mine.target_link_column()
            });
            if other_side {
                r.field.forget();
            }
            index += 1;
        }
    }
}
