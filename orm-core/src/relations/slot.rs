//! The instance slot of a to-many relation: the related rows, bound to the
//! owner key they were loaded for; for instances a query loaded, an entry
//! of that query's peer batch.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::backend::levels::Written;
use crate::error::Result;
use crate::fetch::{resolve, Batch, FetchMode, Member, ModeCell, Release};
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
    /// In a peer batch: the owner's key when it was loaded (an unfiltered
    /// `all()` under PEERS fills every live peer's slot).
    owner: Option<Key>,
}

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Slot::owned_by(None)
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
    fn owned_by(owner: Option<Key>) -> Self {
        Slot {
            cache: Mutex::new(None),
            filled: AtomicBool::new(false),
            mode: ModeCell::default(),
            owner,
        }
    }

    /// The live peers (this slot included) whose rows are not cached yet,
    /// with their owner keys.
    fn pending_peers<'a>(peers: &[&'a Slot<C>]) -> Vec<(&'a Slot<C>, Key)> {
        peers
            .iter()
            .filter_map(|s| {
                let key = s.owner.as_ref()?;
                s.get(key).is_none().then(|| (*s, key.clone()))
            })
            .collect()
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

/// A relation field's slot: allocated on first use, or the instance's
/// entry in the peer batch of the query that loaded it. A default
/// instance, or a clone of an instance whose slot holds no rows and no
/// fetch mode, costs no allocation for it. Dereferences to the slot,
/// allocating it if needed; the slot never moves afterwards.
#[doc(hidden)]
pub struct LazySlot<C>(OnceLock<Held<C>>);

enum Held<C> {
    Own(Box<Slot<C>>),
    Peer(Member<Slot<C>>),
}

impl<C> Held<C> {
    #[inline]
    fn slot(&self) -> &Slot<C> {
        match self {
            Held::Own(slot) => slot,
            Held::Peer(member) => member,
        }
    }
}

impl<C> Default for LazySlot<C> {
    fn default() -> Self {
        LazySlot(OnceLock::new())
    }
}

impl<C> std::ops::Deref for LazySlot<C> {
    type Target = Slot<C>;

    #[inline]
    fn deref(&self) -> &Slot<C> {
        self.0.get_or_init(|| Held::Own(Box::default())).slot()
    }
}

impl<C> LazySlot<C> {
    /// The slot if it was allocated.
    pub(crate) fn peek(&self) -> Option<&Slot<C>> {
        self.0.get().map(Held::slot)
    }

    /// Makes the slots of instances loaded together (each with its
    /// owner's key) one peer batch; slots allocated already (rows a join
    /// attached) stay out of it.
    pub(crate) fn link<'a>(items: impl Iterator<Item = (&'a LazySlot<C>, Option<Key>)>)
    where
        C: 'a,
    {
        let slots = items.filter_map(|(field, key)| {
            let key = key.filter(|_| field.0.get().is_none())?;
            Some((field, Slot::owned_by(Some(key))))
        });
        Batch::link_each(slots, |field, member| {
            let _ = field.0.set(Held::Peer(member));
        });
    }

    /// The rows for `key`: from the cache (nothing else is read); else,
    /// when the fetch mode (the slot's, over the model's `declared` one)
    /// is PEERS and the slot is in a peer batch for this key, filled by
    /// `fill` for every live peer still empty (a batch); else filled for
    /// this slot alone. `fill` gets the slots with their owner keys and
    /// whether it runs as a batch.
    pub(crate) fn get_or_fill(
        &self,
        key: &Key,
        declared: Option<FetchMode>,
        mut fill: impl FnMut(&[(&Slot<C>, Key)], bool) -> Result<Vec<Arc<Vec<C>>>>,
    ) -> Result<Arc<Vec<C>>> {
        let slot: &Slot<C> = self;
        if let Some(rows) = slot.get(key) {
            return Ok(rows);
        }
        let mode = resolve(slot.mode.get(), declared);
        if let (FetchMode::Peers, Some(Held::Peer(member))) = (mode, self.0.get()) {
            // The owner still has the key it was loaded with.
            if member.owner.as_ref() == Some(key) {
                member
                    .batch()
                    .with_live(|peers| fill(&Slot::pending_peers(peers), true))?;
                if let Some(rows) = slot.get(key) {
                    return Ok(rows);
                }
            }
        }
        let filled = fill(&[(slot, key.clone())], false)?;
        Ok(filled.into_iter().next().unwrap_or_default())
    }

    /// A slot for a clone of the instance: it keeps the fetch mode and
    /// shares the cached rows (bound to their key), in no peer batch;
    /// nothing to keep, no allocation.
    pub(crate) fn cloned(&self) -> Self {
        let Some(source) = self.peek() else {
            return LazySlot::default();
        };
        let mode = source.mode.get();
        if mode.is_none() && !source.filled.load(AtomicOrdering::Acquire) {
            return LazySlot::default();
        }
        let cache = source.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let slot: Box<Slot<C>> = Box::default();
        slot.mode.set(mode);
        if let Some(b) = cache.as_ref() {
            slot.put(b.key.clone(), Arc::clone(&b.rows), b.written.clone());
        }
        LazySlot(OnceLock::from(Held::Own(slot)))
    }
}
