//! The instance slot of a to-many relation: the related rows, bound to the
//! owner key they were loaded for, shared with the instance's peers.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::backend::levels::Written;
use crate::error::Result;
use crate::fetch::{resolve, FetchMode, ModeCell, PeerGroup};
use crate::meta::Key;

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
}

/// The slot shared by reverse and many-to-many managers.
#[doc(hidden)]
pub struct Slot<C> {
    pub(crate) cache: Mutex<Option<Bound<C>>>,
    /// Whether `cache` holds rows: lets a clone skip the lock when there
    /// is nothing to share (a hint; the cache itself is the truth).
    filled: AtomicBool,
    /// The owner instance's fetch mode, inherited by the rows loaded here.
    pub(crate) mode: ModeCell,
    /// The owner's key when it was loaded, and the slots of the instances
    /// loaded with it: an unfiltered `all()` under PEERS fills them all.
    owner: OnceLock<Key>,
    peers: OnceLock<Arc<PeerGroup<Slot<C>>>>,
}

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Slot {
            cache: Mutex::new(None),
            filled: AtomicBool::new(false),
            mode: ModeCell::default(),
            owner: OnceLock::new(),
            peers: OnceLock::new(),
        }
    }
}

impl<C> Slot<C> {
    /// Makes the slots of instances loaded together peers, each bound to
    /// its owner's key.
    pub(crate) fn link<'a>(items: impl IntoIterator<Item = (&'a Arc<Slot<C>>, Option<Key>)>)
    where
        C: 'a,
    {
        let members: Vec<&Arc<Slot<C>>> = items
            .into_iter()
            .filter_map(|(slot, key)| {
                let _ = slot.owner.set(key?);
                Some(slot)
            })
            .collect();
        PeerGroup::link(&members, |slot| &slot.peers);
    }

    /// The live peers (this slot included) whose rows are not cached yet,
    /// with their owner keys; `None` when the batch does not apply.
    pub(crate) fn pending_peers(peers: &[Arc<Slot<C>>]) -> Vec<(&Slot<C>, Key)> {
        peers
            .iter()
            .filter_map(|s| {
                let key = s.owner.get()?;
                s.get(key).is_none().then(|| (&**s, key.clone()))
            })
            .collect()
    }

    /// The rows for `key`: from the cache (nothing else is read); else,
    /// when the fetch mode (this slot's, over the model's `declared` one)
    /// is PEERS, filled by `fill` for every live peer still empty (a
    /// batch); else filled for this slot alone. `fill` gets the slots with
    /// their owner keys and whether it runs as a batch.
    pub(crate) fn get_or_fill(
        &self,
        key: &Key,
        declared: Option<FetchMode>,
        mut fill: impl FnMut(&[(&Slot<C>, Key)], bool) -> Result<Vec<Arc<Vec<C>>>>,
    ) -> Result<Arc<Vec<C>>> {
        if let Some(rows) = self.get(key) {
            return Ok(rows);
        }
        let mode = resolve(self.mode.get(), declared);
        if let (FetchMode::Peers, Some(group)) = (mode, self.batch_group(key)) {
            group.with_live(|peers| fill(&Slot::pending_peers(peers), true))?;
            if let Some(rows) = self.get(key) {
                return Ok(rows);
            }
        }
        let filled = fill(&[(self, key.clone())], false)?;
        Ok(filled.into_iter().next().unwrap_or_default())
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
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Bound { key, rows, written });
        self.filled.store(true, AtomicOrdering::Release);
    }

    pub(crate) fn clear(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.filled.store(false, AtomicOrdering::Release);
    }

    /// Fills the cache unless it already holds rows for `key`.
    pub(crate) fn put_if_absent(&self, key: Key, rows: Arc<Vec<C>>, written: &Written) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.as_ref().is_none_or(|b| !b.holds(&key)) {
            let written = written.clone();
            *cache = Some(Bound { key, rows, written });
            self.filled.store(true, AtomicOrdering::Release);
        }
    }

    /// Whether a peer batch applies: the slot is in a group and its owner
    /// still has the key it was loaded with.
    pub(crate) fn batch_group(&self, key: &Key) -> Option<&Arc<PeerGroup<Slot<C>>>> {
        self.peers.get().filter(|_| self.owner.get() == Some(key))
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
        }
    }
}

/// A relation field's slot, allocated on first use: a default instance, or
/// a clone of an instance whose slot holds no rows and no fetch mode, costs
/// no allocation for it. Rows loaded by a query allocate theirs when they
/// join their peer group. Dereferences to the slot, allocating it if
/// needed; the slot never moves afterwards.
pub(crate) struct LazySlot<C>(OnceLock<Arc<Slot<C>>>);

impl<C> Default for LazySlot<C> {
    fn default() -> Self {
        LazySlot(OnceLock::new())
    }
}

impl<C> std::ops::Deref for LazySlot<C> {
    type Target = Arc<Slot<C>>;

    #[inline]
    fn deref(&self) -> &Arc<Slot<C>> {
        self.0.get_or_init(Arc::default)
    }
}

impl<C> LazySlot<C> {
    /// The slot if it was allocated.
    pub(crate) fn peek(&self) -> Option<&Arc<Slot<C>>> {
        self.0.get()
    }

    /// A slot for a clone of the instance: it keeps the fetch mode and
    /// shares the cached rows (bound to their key); nothing to keep, no
    /// allocation.
    pub(crate) fn cloned(&self) -> Self {
        let Some(source) = self.peek() else {
            return LazySlot::default();
        };
        let mode = source.mode.get();
        if mode.is_none() && !source.filled.load(AtomicOrdering::Acquire) {
            return LazySlot::default();
        }
        let cache = source.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let slot: Arc<Slot<C>> = Arc::default();
        slot.mode.set(mode);
        if let Some(b) = cache.as_ref() {
            slot.put(b.key.clone(), Arc::clone(&b.rows), b.written.clone());
        }
        LazySlot(OnceLock::from(slot))
    }
}
