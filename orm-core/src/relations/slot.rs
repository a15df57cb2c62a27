//! The instance slot of a to-many relation: the related rows, bound to the
//! owner key they were loaded for; for instances a query loaded, an entry
//! of that query's peer batch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::RelatedRows;
use crate::backend::levels::Written;
use crate::error::Result;
use crate::fetch::{report_n_plus_one, resolve, Batch, FetchMode, Link, Linked, Release};
use crate::meta::Key;

/// What the owner's model declares for a relation slot: its fetch mode
/// (under the instance's), and the names an N+1 report gives.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Declared {
    pub(crate) mode: Option<FetchMode>,
    pub(crate) model: &'static str,
    pub(crate) field: &'static str,
}

/// A to-many cache: the related rows, bound to the owner key they were
/// loaded for and to the transaction levels they were written in (none
/// outside transactions): after a rollback of one, the cache counts as
/// empty.
pub(crate) struct Bound<C> {
    pub(crate) key: Key,
    pub(crate) rows: Arc<Vec<C>>,
    pub(crate) written: Written,
}

impl<C> Bound<C> {
    /// Holds rows for `key` that may be trusted.
    #[inline]
    fn holds(&self, key: &Key) -> bool {
        &self.key == key && self.written.is_valid()
    }

    /// Rows for `key` a rollback untrusted: a batch for `key` replaces
    /// them (rows for another key it leaves alone).
    fn untrusted(&self, key: &Key) -> bool {
        &self.key == key && !self.written.is_valid()
    }
}

/// The slot shared by reverse and many-to-many managers.
#[doc(hidden)]
pub struct Slot<C> {
    pub(crate) cache: Mutex<Option<Bound<C>>>,
    /// Whether `cache` holds rows: lets a clone skip the lock when there
    /// is nothing to share (a hint; the cache itself is the truth).
    filled: AtomicBool,
    /// Counts the writes of `cache` once its owner published rows (see
    /// [`LazySlot`]): they are current while it has not moved. Shared
    /// with the published rows, so that a cached read checks it without
    /// reaching the slot; allocated by the first publication.
    version: OnceLock<Arc<AtomicU64>>,
    /// Whether the rows were read since the last write: the second read
    /// publishes them (a loop reading each instance once publishes none).
    read_once: AtomicBool,
}

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Slot {
            cache: Mutex::new(None),
            filled: AtomicBool::new(false),
            version: OnceLock::new(),
            read_once: AtomicBool::new(false),
        }
    }
}

/// A dropped instance's rows are freed with it.
impl<C> Release for Slot<C> {
    fn release(&self) {
        if self.filled.load(AtomicOrdering::Acquire) {
            self.clear();
        }
    }
}

impl<C> Slot<C> {
    /// The live peers (this slot included), each with the key its owner
    /// was loaded with, that [lack](Self::lacks) rows for it.
    fn pending_peers<'a>(
        peers: impl Iterator<Item = (&'a Key, &'a Slot<C>)>,
    ) -> Vec<(&'a Slot<C>, Key)>
    where
        C: 'a,
    {
        peers
            .filter(|(key, slot)| slot.lacks(key))
            .map(|(key, slot)| (slot, key.clone()))
            .collect()
    }

    /// Whether a batch for `key` (the key the owner was loaded with) is
    /// to fill this slot: nothing is cached, or rows for `key` that a
    /// rollback untrusted. Rows bound to another key mean the owner's key
    /// changed since its query: they are its current rows, not the
    /// batch's to replace.
    fn lacks(&self, key: &Key) -> bool {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().is_none_or(|b| b.untrusted(key))
    }

    /// The rows cached, for whatever key.
    pub(crate) fn any_rows(&self) -> Option<Arc<Vec<C>>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().map(|b| Arc::clone(&b.rows))
    }

    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Vec<C>>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|b| b.holds(key))
            .map(|b| Arc::clone(&b.rows))
    }

    /// Caches `rows` for `key`, written in the transaction levels
    /// `written` (see [`written_now`](crate::backend::written_now)).
    pub(crate) fn put(&self, key: Key, rows: Arc<Vec<C>>, written: Written) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let replaced = cache.replace(Bound { key, rows, written });
        self.wrote(true);
        drop(cache);
        // Dropped after the lock: the rows' own relations may leave
        // batches, which can reach other slots' locks.
        drop(replaced);
    }

    pub(crate) fn clear(&self) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let cleared = cache.take();
        self.wrote(false);
        drop(cache);
        // As in `put`: the rows are dropped after the lock.
        drop(cleared);
    }

    /// Records a write of the cache (made under its lock): whether it
    /// holds rows now and, once rows were published, a new version.
    fn wrote(&self, filled: bool) {
        self.filled.store(filled, AtomicOrdering::Release);
        self.read_once.store(false, AtomicOrdering::Relaxed);
        if let Some(version) = self.version.get() {
            version.fetch_add(1, AtomicOrdering::Release);
        }
    }

    /// The rows for `key`, published at the cache's current version,
    /// when they may be: bound outside any transaction (or in
    /// transactions committed since), so nothing but a write (which moves
    /// the version) can make them stale.
    fn snapshot(&self, key: Key) -> Option<Published<C>> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let bound = cache.as_mut().filter(|b| b.key == key)?;
        bound.written.prune();
        bound.written.is_empty().then(|| {
            let current = Arc::clone(self.version.get_or_init(Arc::default));
            Published {
                key,
                version: current.load(AtomicOrdering::Acquire),
                current,
                rows: Arc::clone(&bound.rows),
            }
        })
    }

    /// Fills the cache if it still [lacks](Self::lacks) rows for `key`
    /// (another thread may have filled it since the batch began).
    pub(crate) fn put_if_absent(&self, key: Key, rows: Arc<Vec<C>>, written: &Written) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.as_ref().is_none_or(|b| b.untrusted(&key)) {
            let written = written.clone();
            let replaced = cache.replace(Bound { key, rows, written });
            self.wrote(true);
            drop(cache);
            // As in `put`: the rows are dropped after the lock.
            drop(replaced);
        }
    }

    /// Applies `edit` to a filled cache bound to `key`, written now in
    /// the levels `written`; an empty, differently-bound or rolled-back
    /// cache stays as it is.
    pub(crate) fn edit(&self, key: &Key, written: &Written, edit: impl FnOnce(&mut Vec<C>))
    where
        C: Clone,
    {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bound) = cache.as_mut().filter(|b| b.holds(key)) {
            edit(Arc::make_mut(&mut bound.rows));
            bound.written.merge(written);
            self.wrote(true);
        }
    }
}

/// A relation field's slot: allocated on first use, or the instance's
/// entry in the peer batch of the query that loaded it. A default
/// instance, or a clone of an instance whose slot holds no rows and no
/// fetch mode, costs no allocation for it. Dereferences to the slot,
/// allocating it if needed; the slot never moves afterwards.
///
/// Rows read twice through the field are also *published* in the
/// instance: a cached read then takes no lock and no reference count, it
/// borrows them while the slot's version says nothing was written since.
/// (Publishing costs an allocation, two the first time: the slot's
/// shared version counter too; a loop that reads each instance once does
/// not pay it.)
/// The published rows are the instance's own, freed with it (a dropped
/// peer's rows do not wait for its batch).
#[doc(hidden)]
pub struct LazySlot<C> {
    /// The slot: an entry of a query's batch, by the owner's key when it
    /// was loaded (an unfiltered `all()` under PEERS fills every live
    /// peer's slot), or a slot of its own, allocated on first use.
    held: Link<Key, Slot<C>>,
    published: OnceLock<Box<Published<C>>>,
}

/// A slot of its own: a batch of one, whose entry loads by nothing (only
/// a query's batch loads by its entries' keys).
fn own<C>(slot: Slot<C>) -> (Key, Slot<C>) {
    (Key::Int(0), slot)
}

/// Rows read twice, bound to the owner key and the slot version they were
/// read at. Set once: after a write, reads go through the slot's lock
/// until the instance is refreshed (`invalidate(&mut self)`).
struct Published<C> {
    key: Key,
    version: u64,
    /// The slot's version now (shared with it).
    current: Arc<AtomicU64>,
    rows: Arc<Vec<C>>,
}

impl<C> Default for LazySlot<C> {
    fn default() -> Self {
        LazySlot {
            held: Link::default(),
            published: OnceLock::new(),
        }
    }
}

impl<C> std::ops::Deref for LazySlot<C> {
    type Target = Slot<C>;

    #[inline]
    fn deref(&self) -> &Slot<C> {
        self.held.get_or_init(|| own(Slot::default())).cell()
    }
}

impl<C> LazySlot<C> {
    /// The slot if it was allocated.
    pub(crate) fn peek(&self) -> Option<&Slot<C>> {
        self.held.get().and_then(Linked::peek)
    }

    /// The published rows for `key`, if nothing was written since they
    /// were read: two atomic loads, no lock, no visit to the slot.
    #[inline(always)]
    pub(crate) fn published(&self, key: &Key) -> Option<&Arc<Vec<C>>> {
        let published = self.published.get()?;
        let current = published.current.load(AtomicOrdering::Acquire);
        (published.key == *key && published.version == current).then_some(&published.rows)
    }

    /// The rows cached for `key`, without filling the cache.
    pub(crate) fn cached(&self, key: &Key) -> Option<RelatedRows<'_, C>> {
        match self.published(key) {
            Some(rows) => Some(RelatedRows::borrowed(rows)),
            None => self.peek()?.get(key).map(RelatedRows::shared),
        }
    }

    /// Publishes the rows cached for `key` if none were yet and they may
    /// be (bound outside transactions).
    fn publish(&self, key: &Key) {
        if self.published.get().is_none() {
            if let Some(published) = self.peek().and_then(|slot| slot.snapshot(key.clone())) {
                let _ = self.published.set(Box::new(published));
            }
        }
    }

    /// Forgets the published rows (the instance is borrowed mutably: no
    /// read borrows them).
    pub(crate) fn unpublish(&mut self) {
        self.published = OnceLock::new();
    }

    /// Makes the slots of instances loaded together (each with its
    /// owner's key) one peer batch; slots allocated already (rows a join
    /// attached) stay out of it.
    pub(crate) fn link<'a>(items: impl Iterator<Item = (&'a LazySlot<C>, Option<Key>)>)
    where
        C: 'a,
    {
        let slots = items.filter_map(|(field, key)| {
            let key = key.filter(|_| field.held.get().is_none())?;
            Some((field, key))
        });
        Batch::link_each(slots, |field, holder| field.held.set(holder));
    }

    /// The rows for `key` through the slot's lock, filled if needed (see
    /// [`get_or_fill`](Self::get_or_fill)); publishes them on their
    /// second read. Callers look at the [published](Self::published)
    /// rows first.
    pub(crate) fn read(
        &self,
        key: &Key,
        declared: Declared,
        fill: impl FnMut(&[(&Slot<C>, Key)], bool) -> Result<Vec<Arc<Vec<C>>>>,
    ) -> Result<RelatedRows<'_, C>> {
        let rows = self.get_or_fill(key, declared, fill)?;
        let slot: &Slot<C> = self;
        if slot.read_once.load(AtomicOrdering::Relaxed) {
            self.publish(key);
        } else {
            slot.read_once.store(true, AtomicOrdering::Relaxed);
        }
        Ok(RelatedRows::shared(rows))
    }

    /// The rows for `key`: from the cache (nothing else is read); else,
    /// when the fetch mode (the slot's, over the model's `declared` one)
    /// is PEERS and the slot is in a peer batch for this key, filled by
    /// `fill` for every live peer still empty (a batch); else filled for
    /// this slot alone (reported as an N+1 fetch under ONE when it has
    /// peers). `fill` gets the slots with their owner keys and whether it
    /// runs as a batch.
    pub(crate) fn get_or_fill(
        &self,
        key: &Key,
        declared: Declared,
        mut fill: impl FnMut(&[(&Slot<C>, Key)], bool) -> Result<Vec<Arc<Vec<C>>>>,
    ) -> Result<Arc<Vec<C>>> {
        let slot: &Slot<C> = self;
        if let Some(rows) = slot.get(key) {
            return Ok(rows);
        }
        let mode = resolve(self.mode(), declared.mode);
        // In a query's batch, and the owner still has the key it was
        // loaded with.
        let batch = self
            .held
            .get()
            .and_then(|linked| linked.batch().filter(|_| linked.entry() == key))
            .filter(|_| slot.lacks(key));
        match (mode, batch) {
            (FetchMode::Peers, Some(batch)) => {
                batch.with_live(|peers| fill(&Slot::pending_peers(peers), true))?;
                if let Some(rows) = slot.get(key) {
                    return Ok(rows);
                }
            }
            (FetchMode::One, Some(_)) => report_n_plus_one(declared.model, declared.field),
            _ => {}
        }
        let filled = fill(&[(slot, key.clone())], false)?;
        Ok(filled.into_iter().next().unwrap_or_default())
    }

    /// The owner instance's fetch mode for the relation, inherited by the
    /// rows loaded here (kept in the link, so that setting it allocates
    /// no slot and leaves the field free to join a peer batch).
    pub(crate) fn mode(&self) -> Option<FetchMode> {
        self.held.mode()
    }

    pub(crate) fn set_mode(&self, mode: Option<FetchMode>) {
        self.held.set_mode(mode);
    }

    /// A slot for a clone of the instance: it keeps the fetch mode and
    /// shares the cached rows (bound to their key), in no peer batch;
    /// nothing cached, no allocation (a query may still link it).
    pub(crate) fn cloned(&self) -> Self {
        let mut clone = LazySlot::default();
        clone.set_mode(self.mode());
        let filled = |slot: &&Slot<C>| slot.filled.load(AtomicOrdering::Acquire);
        let Some(source) = self.peek().filter(filled) else {
            return clone;
        };
        let cache = source.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = cache.as_ref() {
            let slot = Slot::default();
            slot.put(b.key.clone(), Arc::clone(&b.rows), b.written.clone());
            clone.held.reset(Some(own(slot)));
        }
        clone
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Declared, LazySlot, Slot};
    use crate::backend::levels::Written;
    use crate::error::{OrmError, Result};
    use crate::meta::Key;

    fn rows(names: &[&str]) -> Arc<Vec<String>> {
        Arc::new(names.iter().map(|n| n.to_string()).collect())
    }

    /// A fill that must not run: the rows are cached.
    fn no_fill(_: &[(&Slot<String>, Key)], _: bool) -> Result<Vec<Arc<Vec<String>>>> {
        Err(OrmError::NotFound {
            model: "a cached read queried",
        })
    }

    #[test]
    fn reads_borrow_the_published_rows_until_a_write() -> Result<()> {
        let slot: LazySlot<String> = LazySlot::default();
        let key = Key::Int(1);
        assert!(slot.published(&key).is_none());
        slot.put(key.clone(), rows(&["a"]), Written::default());
        let once = slot.read(&key, Declared::default(), no_fill)?;
        assert!(
            slot.published(&key).is_none(),
            "a first read publishes nothing"
        );
        let first = slot.read(&key, Declared::default(), no_fill)?;
        assert!(Arc::ptr_eq(once.as_arc(), first.as_arc()));
        let published = slot.published(&key).map(Arc::as_ptr);
        assert_eq!(published, Some(Arc::as_ptr(first.as_arc())));
        assert!(slot.published(&Key::Int(2)).is_none(), "bound to its key");

        slot.edit(&key, &Written::default(), |rows| rows.push("b".into()));
        assert!(
            slot.published(&key).is_none(),
            "a write retires the published rows"
        );
        slot.read(&key, Declared::default(), no_fill)?;
        let after = slot.read(&key, Declared::default(), no_fill)?;
        assert_eq!(*after, ["a", "b"]);
        assert_eq!(*first, ["a"], "rows read before the write are a snapshot");

        slot.clear();
        assert!(slot.cached(&key).is_none());
        Ok(())
    }

    #[test]
    fn writes_before_the_first_publication_do_not_hide_a_later_one() -> Result<()> {
        let slot: LazySlot<String> = LazySlot::default();
        let key = Key::Int(1);
        slot.put(key.clone(), rows(&["a"]), Written::default());
        slot.put(key.clone(), rows(&["b"]), Written::default());
        slot.read(&key, Declared::default(), no_fill)?;
        slot.read(&key, Declared::default(), no_fill)?;
        let published = slot.published(&key).map(|rows| rows.to_vec());
        assert_eq!(published, Some(vec!["b".to_string()]));

        slot.put(key.clone(), rows(&["c"]), Written::default());
        assert!(
            slot.published(&key).is_none(),
            "the first write after publishing retires the rows"
        );
        let read = slot.read(&key, Declared::default(), no_fill)?;
        assert_eq!(*read, ["c"]);
        Ok(())
    }

    #[test]
    fn unpublishing_lets_the_next_read_publish_again() -> Result<()> {
        let mut slot: LazySlot<String> = LazySlot::default();
        let key = Key::Int(1);
        slot.put(key.clone(), rows(&["a"]), Written::default());
        slot.read(&key, Declared::default(), no_fill)?;
        slot.read(&key, Declared::default(), no_fill)?;
        slot.put(key.clone(), rows(&["b"]), Written::default());
        assert!(slot.published(&key).is_none());
        slot.unpublish();
        slot.read(&key, Declared::default(), no_fill)?;
        let read = slot.read(&key, Declared::default(), no_fill)?;
        assert_eq!(*read, ["b"]);
        assert!(slot.published(&key).is_some());
        Ok(())
    }
}
