//! Many-to-many relations: the [`ManyToManyManager`] (`user.groups()`, or
//! `group.users()` from the other side) over a through model.

use std::sync::Arc;

use diesel::expression::{AppearsOnTable, Expression};
use diesel::query_builder::QueryFragment;
use diesel::sql_types::BoolOrNullableBool;
use diesel::Connection;
use foldhash::{HashSet, HashSetExt};

use super::descriptor::ManyToManyRel;
use super::fill::{fill_many_to_many, keep_database_order};
use super::reverse::insert_sorted;
use super::slot::Slot;
use super::through::Links;
use crate::backend::{AnyConnection, MultiBackend};
use crate::error::{OrmError, Result};
use crate::meta::{Key, ModelMeta};
use crate::model::{inherit_fetch_mode, Model};
use crate::query::QuerySet;

/// The manager of a many-to-many relation: `user.groups()`, or its reverse
/// side `group.users()`.
///
/// Reads: `all` costs two queries the first time (the links, then the
/// targets in their default ordering) and none afterwards. Writes keep a
/// filled cache exact and ordered; see each method for its query count.
pub struct ManyToManyManager<'a, T: Model> {
    owner: Option<Key>,
    /// The owner's model (its name for errors, its declared fetch mode).
    owner_model: &'static ModelMeta,
    links: &'static dyn Links<T>,
    slot: &'a Slot<T>,
}

impl<'a, T: Model + Clone> ManyToManyManager<'a, T> {
    /// Used by generated accessors.
    #[doc(hidden)]
    pub fn new<O: Model>(owner: &'a O, rel: &ManyToManyRel<O, T>) -> Self {
        ManyToManyManager {
            owner: rel.owner_key(owner),
            owner_model: O::meta(),
            links: rel.through,
            slot: (rel.slot)(owner),
        }
    }

    fn target_key(&self, target: &T) -> Result<Key> {
        self.links.target_key(target).ok_or(OrmError::Unsaved {
            model: T::meta().name,
        })
    }

    /// The target keys linked now: from a filled cache, else one query.
    fn current_keys(&self, conn: &mut AnyConnection) -> Result<Vec<Key>> {
        if let Some(rows) = self.slot.get(self.owner()?) {
            return rows.iter().map(|t| self.target_key(t)).collect();
        }
        let owner = std::slice::from_ref(self.owner()?);
        let links = self.links.links(conn, owner)?;
        Ok(links.into_iter().map(|(_, target)| target).collect())
    }

    /// The related rows in `T`'s default ordering: two queries the first
    /// time, cached in the instance afterwards (zero queries).
    pub fn all(&self, conn: &mut AnyConnection) -> Result<Arc<Vec<T>>> {
        let key = self.owner()?;
        self.slot
            .get_or_fill(key, self.owner_model.fetch_mode, |slots, batch| {
                let mode = self.slot.mode.get();
                fill_many_to_many(conn, self.links, slots, mode, batch)
            })
    }

    manager_cache_control!(T);

    /// How many related rows: from the cache, or one COUNT query.
    pub fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        match self.slot.get(self.owner()?) {
            Some(rows) => Ok(rows.len() as i64),
            None => self.links.count(conn, self.owner()?),
        }
    }

    /// Whether any row is related: from the cache, or one query.
    pub fn exists(&self, conn: &mut AnyConnection) -> Result<bool> {
        match self.slot.get(self.owner()?) {
            Some(rows) => Ok(!rows.is_empty()),
            None => self.links.exists(conn, self.owner()?),
        }
    }

    /// A queryset over the related rows, to filter further: the links are
    /// read from a filled cache, else with one query. What it loads takes
    /// the owner's fetch mode.
    pub fn query(&self, conn: &mut AnyConnection) -> Result<QuerySet<T>> {
        let keys = self.current_keys(conn)?;
        Ok(QuerySet::new()
            .filter_keys(self.links.target_column(), &keys)
            .inherit_fetch_mode(self.slot.mode.get()))
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
        self.query(conn)?.filter(predicate).get(conn)
    }

    /// Saves `target` (one INSERT) and links it (one INSERT), in one
    /// transaction; a filled cache gets it, in order.
    pub fn create(&self, conn: &mut AnyConnection, mut target: T) -> Result<T> {
        let key = self.owner()?.clone();
        inherit_fetch_mode(&target, self.slot.mode.get());
        conn.transaction(|conn| {
            target.save(conn)?;
            let k = self.target_key(&target)?;
            self.links.link(conn, &key, std::slice::from_ref(&k))
        })?;
        self.slot
            .edit(&key, |rows| insert_sorted(rows, target.clone()));
        keep_database_order(conn, self.slot, &key);
        Ok(target)
    }

    /// The distinct keys of `targets`, in order.
    fn keys_of(&self, targets: &[T]) -> Result<Vec<Key>> {
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(targets.len());
        for t in targets {
            let k = self.target_key(t)?;
            if seen.insert(k.clone()) {
                keys.push(k);
            }
        }
        Ok(keys)
    }

    /// Links `targets` (saved rows). With a filled cache: one INSERT of the
    /// missing links (none if all are linked); otherwise one SELECT of the
    /// current links first. A filled cache gets the new rows, in order.
    pub fn add(&self, conn: &mut AnyConnection, targets: &[T]) -> Result<()> {
        let key = self.owner()?.clone();
        let wanted = self.keys_of(targets)?;
        let missing: HashSet<Key> = conn.transaction(|conn| {
            let current: HashSet<Key> = self.current_keys(conn)?.into_iter().collect();
            let missing: Vec<Key> = wanted
                .into_iter()
                .filter(|k| !current.contains(k))
                .collect();
            self.links.link(conn, &key, &missing)?;
            Ok::<_, OrmError>(missing.into_iter().collect())
        })?;
        self.slot.edit(&key, |rows| {
            let mut added = HashSet::new();
            for t in targets {
                if let Ok(k) = self.target_key(t) {
                    if missing.contains(&k) && added.insert(k) {
                        insert_sorted(rows, t.clone());
                    }
                }
            }
        });
        if !missing.is_empty() {
            keep_database_order(conn, self.slot, &key);
        }
        Ok(())
    }

    /// Unlinks `targets`: one DELETE. A filled cache loses them.
    pub fn remove(&self, conn: &mut AnyConnection, targets: &[T]) -> Result<()> {
        let key = self.owner()?.clone();
        let keys = self.keys_of(targets)?;
        conn.transaction(|conn| self.links.unlink(conn, &key, Some(&keys)))?;
        let keys: HashSet<Key> = keys.into_iter().collect();
        self.slot.edit(&key, |rows| {
            rows.retain(|r| self.target_key(r).map_or(true, |k| !keys.contains(&k)))
        });
        Ok(())
    }

    /// Unlinks everything: one DELETE. The cache is filled with nothing, so
    /// the next `all` costs no query.
    pub fn clear(&self, conn: &mut AnyConnection) -> Result<()> {
        let key = self.owner()?.clone();
        self.links.unlink(conn, &key, None)?;
        self.slot.put(key, Arc::new(Vec::new()));
        Ok(())
    }

    /// Makes `targets` exactly the related rows, in one transaction: with a
    /// filled cache, at most one DELETE and one INSERT (the difference is
    /// computed from the cache, nothing is read again); otherwise one SELECT
    /// of the current links first. Afterwards the cache holds exactly
    /// `targets` in `T`'s default ordering, so the next `all` costs no query.
    /// On error the database and the cache are left as they were.
    pub fn set(&self, conn: &mut AnyConnection, targets: &[T]) -> Result<()> {
        let key = self.owner()?.clone();
        let mut wanted: HashSet<Key> = HashSet::new();
        let mut rows: Vec<T> = Vec::new();
        for t in targets {
            if wanted.insert(self.target_key(t)?) {
                rows.push(t.clone());
            }
        }
        conn.transaction(|conn| {
            let current: HashSet<Key> = self.current_keys(conn)?.into_iter().collect();
            let stale: Vec<Key> = current
                .iter()
                .filter(|k| !wanted.contains(k))
                .cloned()
                .collect();
            let missing: Vec<Key> = rows
                .iter()
                .filter_map(|t| self.target_key(t).ok())
                .filter(|k| !current.contains(k))
                .collect();
            self.links.unlink(conn, &key, Some(&stale))?;
            self.links.link(conn, &key, &missing)
        })?;
        rows.sort_by(Model::cmp_default);
        self.slot.put(key.clone(), Arc::new(rows));
        keep_database_order(conn, self.slot, &key);
        Ok(())
    }
}
