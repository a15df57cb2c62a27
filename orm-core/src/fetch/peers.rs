//! Peer batches: the relation cells of the instances one query loaded,
//! shared, so touching a relation on one of them can load it for all.
//!
//! A query result gets one [`Batch`] per relation field: an *entry* per
//! key to load by (an owner key for a to-many field; a target key for a
//! to-one field, shared by the instances pointing at the same row), and
//! each instance holds a share of its entry in a [`Link`] (a to-one
//! field's, or a to-many field's slot). The cells are allocated on the
//! first use of any member, all at once: a relation nobody touches costs
//! its keys and nothing more (issue 10).
//!
//! Peers are held weakly in the sense that matters: an entry counts the
//! live instances holding it, and batch loads skip entries nobody holds.
//! A batch is freed when its last entry loses its last holder (see
//! [`Shared`]); what an entry caches can be released when its last holder
//! goes (see [`Release`]).

use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock, PoisonError};

use foldhash::{HashMap, HashMapExt};

use super::shares::{OnceShare, Share, Shared, Unheld};
use super::{FetchMode, ModeCell};

/// A batch cell: empty when allocated; what it does when no instance
/// holds it any more. To-many slots drop their rows; to-one cells keep
/// their target until the batch is freed (a loaded target cannot be taken
/// back through a shared reference).
pub(crate) trait Release: Default {
    fn release(&self) {}
}

/// The entries of one relation field for the instances one query loaded
/// (or the cell of one instance loaded alone), reached through a
/// [`Shared`] that counts their holders. The mutex serializes batch
/// loads, so two threads touching the same batch run the load once.
pub(crate) struct Batch<E, C> {
    entries: Entries<E, C>,
    lock: Mutex<()>,
}

enum Entries<E, C> {
    /// A cell of its own, inline: one allocation, as a box would cost.
    One { entry: E, cell: C },
    /// A query's: each entry's key, and the cells, allocated on first
    /// use.
    Many {
        entries: Box<[E]>,
        cells: OnceLock<Box<[C]>>,
    },
}

/// The last holder of an entry is gone: its cell is released, and batch
/// loads skip the entry from then on.
impl<E, C: Release> Unheld for Batch<E, C> {
    fn unheld(&self, index: u32) {
        match &self.entries {
            Entries::One { cell, .. } => cell.release(),
            Entries::Many { cells, .. } => {
                if let Some(cell) = cells.get().and_then(|cells| cells.get(index as usize)) {
                    cell.release();
                }
            }
        }
    }
}

impl<E, C: Release> Batch<E, C> {
    /// Makes one batch of `items` (each the place its member goes and the
    /// key its entry loads by), one entry per item; `place` stores each
    /// member. Fewer than two items make no batch.
    pub(crate) fn link_each<'a, P: 'a>(
        items: impl Iterator<Item = (&'a P, E)>,
        place: impl Fn(&'a P, Holder<E, C>),
    ) {
        let capacity = items.size_hint().1.unwrap_or(0);
        let mut places = Vec::with_capacity(capacity);
        let mut entries = Vec::with_capacity(capacity);
        for (index, (at, entry)) in (0u32..).zip(items) {
            places.push((at, index));
            entries.push(entry);
        }
        Batch::link(places, entries, place);
    }

    /// Like [`link_each`](Self::link_each), with one entry per distinct
    /// key: the items pointing at the same row share its cell.
    pub(crate) fn link_shared<'a, P: 'a>(
        items: impl Iterator<Item = (&'a P, E)>,
        place: impl Fn(&'a P, Holder<E, C>),
    ) where
        E: Hash + Eq + Clone,
    {
        let capacity = items.size_hint().1.unwrap_or(0);
        let mut places = Vec::with_capacity(capacity);
        let mut entries = Vec::new();
        let mut index_of: HashMap<E, u32> = HashMap::new();
        for (at, entry) in items {
            let index = match index_of.entry(entry) {
                Entry::Occupied(seen) => *seen.get(),
                Entry::Vacant(new) => {
                    let Ok(index) = u32::try_from(entries.len()) else {
                        return;
                    };
                    entries.push(new.key().clone());
                    *new.insert(index)
                }
            };
            places.push((at, index));
        }
        Batch::link(places, entries, place);
    }

    /// One batch of `entries`, a member for each place. Fewer than two
    /// places make no batch.
    fn link<'a, P: 'a>(
        places: Vec<(&'a P, u32)>,
        entries: Vec<E>,
        place: impl Fn(&'a P, Holder<E, C>),
    ) {
        if places.len() < 2 {
            return;
        }
        let count = entries.len();
        let batch = Batch {
            entries: Entries::Many {
                entries: entries.into_boxed_slice(),
                cells: OnceLock::new(),
            },
            lock: Mutex::new(()),
        };
        Share::hand_out(batch, count, places, |at, share| place(at, Holder(share)));
    }

    /// A batch of one: the cell of an instance in no query's batch.
    fn one(entry: E, cell: C) -> Self {
        Batch {
            entries: Entries::One { entry, cell },
            lock: Mutex::new(()),
        }
    }

    /// Entry `index`'s cell, allocating the cells if needed.
    #[inline]
    fn cell(&self, index: u32) -> &C {
        match &self.entries {
            Entries::One { cell, .. } => cell,
            Entries::Many { entries, cells } => &allocated(entries, cells)[index as usize],
        }
    }

    /// Entry `index`'s cell, if the cells are allocated.
    #[inline]
    fn peek(&self, index: u32) -> Option<&C> {
        match &self.entries {
            Entries::One { cell, .. } => Some(cell),
            Entries::Many { cells, .. } => cells.get().map(|cells| &cells[index as usize]),
        }
    }

    fn entry(&self, index: u32) -> &E {
        match &self.entries {
            Entries::One { entry, .. } => entry,
            Entries::Many { entries, .. } => &entries[index as usize],
        }
    }
}

/// A batch as its holders reach it: with the counts of its holders.
impl<E, C: Release> Shared<Batch<E, C>> {
    /// Runs `load` with the batch locked, on the entries still held and
    /// their cells (walked in place: a large batch is not copied).
    pub(crate) fn with_live<R>(&self, load: impl FnOnce(Live<'_, E, C>) -> R) -> R {
        let batch = self.value();
        let _serial = batch.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (entries, cells) = match &batch.entries {
            Entries::One { entry, cell } => {
                (std::slice::from_ref(entry), std::slice::from_ref(cell))
            }
            Entries::Many { entries, cells } => (&entries[..], allocated(entries, cells)),
        };
        load(Live {
            batch: self,
            entries,
            cells,
            next: 0,
        })
    }
}

/// The cells of a query's batch `entries`, allocated (empty) on first use.
fn allocated<'a, E, C: Default>(entries: &[E], cells: &'a OnceLock<Box<[C]>>) -> &'a [C] {
    cells.get_or_init(|| entries.iter().map(|_| C::default()).collect())
}

/// The entries of a batch still held, with their cells, in order. An
/// entry whose last holder is dropped while the batch is walked is
/// skipped from then on.
pub(crate) struct Live<'a, E, C> {
    batch: &'a Shared<Batch<E, C>>,
    entries: &'a [E],
    cells: &'a [C],
    next: usize,
}

impl<E, C> Clone for Live<'_, E, C> {
    fn clone(&self) -> Self {
        Live { ..*self }
    }
}

impl<'a, E, C> Iterator for Live<'a, E, C> {
    type Item = (&'a E, &'a C);

    fn next(&mut self) -> Option<(&'a E, &'a C)> {
        while self.next < self.entries.len() {
            let index = self.next;
            self.next += 1;
            if self.batch.is_held(index) {
                return Some((&self.entries[index], &self.cells[index]));
            }
        }
        None
    }
}

/// A share of an entry of a batch, as linking hands it out: to be set
/// in a [`Link`], whose drop leaves the entry.
pub(crate) struct Holder<E, C: Release>(Share<Batch<E, C>>);

/// A share of a batch's entry set at most once, and the instance's fetch
/// mode for the relation, in two words on 64-bit targets: the batch (a
/// pointer set once, see [`OnceShare`]), the entry's index, the mode and
/// the holder's flags. What a to-one field, and a to-many field's
/// slot, hold in every instance a query loads (the mode is that field's:
/// setting it allocates nothing and leaves the link free to join a
/// batch).
pub(crate) struct Link<E, C: Release> {
    batch: OnceShare<Batch<E, C>, Beside>,
}

/// What a link keeps beside its share, in what would be padding.
#[derive(Default)]
struct Beside {
    mode: ModeCell,
    /// Flags of the field holding the link (a foreign key: whether it has
    /// a key, and where the key came from): a foreign key of an integer
    /// takes 24 bytes, not 32.
    flags: u8,
}

impl<E, C: Release> Default for Link<E, C> {
    fn default() -> Self {
        Link {
            batch: OnceShare::default(),
        }
    }
}

impl<E, C: Release> Link<E, C> {
    /// The member, if set.
    #[inline]
    pub(crate) fn get(&self) -> Option<Linked<'_, E, C>> {
        let (batch, index) = self.batch.get()?;
        Some(Linked { batch, index })
    }

    /// The member, set to a cell of its own (`alone`) if it was not.
    pub(crate) fn get_or_init(&self, alone: impl FnOnce() -> (E, C)) -> Linked<'_, E, C> {
        let (batch, index) = self.batch.get_or_init(|| {
            let (entry, cell) = alone();
            Batch::one(entry, cell)
        });
        Linked { batch, index }
    }

    /// Sets the link to the entry `holder` holds (a query linking the
    /// rows it loaded); a link set already stays, and the entry loses
    /// this holder.
    pub(crate) fn set(&self, Holder(share): Holder<E, C>) {
        self.batch.set(share);
    }

    /// Leaves the batch for a cell of its own holding `alone`, or for
    /// none; the mode stays.
    pub(crate) fn reset(&mut self, alone: Option<(E, C)>) {
        drop(self.batch.take());
        if let Some((entry, cell)) = alone {
            self.batch.set(Share::alone(Batch::one(entry, cell)));
        }
    }

    /// The instance's fetch mode for the relation.
    pub(crate) fn mode(&self) -> Option<FetchMode> {
        self.batch.beside.mode.get()
    }

    pub(crate) fn set_mode(&self, mode: Option<FetchMode>) {
        self.batch.beside.mode.set(mode);
    }

    /// The flags of the field holding the link.
    #[inline]
    pub(crate) fn flags(&self) -> u8 {
        self.batch.beside.flags
    }

    pub(crate) fn set_flags(&mut self, flags: u8) {
        self.batch.beside.flags = flags;
    }
}

/// A set [`Link`], borrowed: the batch and the entry's index.
pub(crate) struct Linked<'a, E, C> {
    batch: &'a Shared<Batch<E, C>>,
    index: u32,
}

impl<E, C> Clone for Linked<'_, E, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E, C> Copy for Linked<'_, E, C> {}

impl<'a, E, C: Release> Linked<'a, E, C> {
    /// The batch, if it is a query's (not a cell of its own).
    pub(crate) fn batch(self) -> Option<&'a Shared<Batch<E, C>>> {
        matches!(self.batch.value().entries, Entries::Many { .. }).then_some(self.batch)
    }

    /// The key the entry loads by.
    pub(crate) fn entry(self) -> &'a E {
        self.batch.value().entry(self.index)
    }

    /// The cell (allocating the batch's cells on first use).
    #[inline]
    pub(crate) fn cell(self) -> &'a C {
        self.batch.value().cell(self.index)
    }

    /// The cell, if the batch's cells are allocated.
    #[inline]
    pub(crate) fn peek(self) -> Option<&'a C> {
        self.batch.value().peek(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::{Batch, Link, Linked, Release, Shared};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the releases of every cell.
    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    /// Not zero-sized: distinct cells have distinct addresses.
    #[derive(Default)]
    struct Counted(#[allow(dead_code)] u8);

    impl Release for Counted {
        fn release(&self) {
            RELEASED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn released() -> usize {
        RELEASED.load(Ordering::Relaxed)
    }

    /// Links to one batch of `keys`, an entry per key.
    fn each(keys: &[u32]) -> Vec<Link<u32, Counted>> {
        let links: Vec<Link<u32, Counted>> = keys.iter().map(|_| Link::default()).collect();
        Batch::link_each(links.iter().zip(keys.iter().copied()), Link::set);
        links
    }

    /// Links to one batch of `keys`, an entry per distinct key (none
    /// set under two keys).
    fn links(keys: &[u32]) -> Vec<Link<u32, Counted>> {
        let links: Vec<Link<u32, Counted>> = keys.iter().map(|_| Link::default()).collect();
        Batch::link_shared(links.iter().zip(keys.iter().copied()), Link::set);
        links
    }

    fn set(links: &[Link<u32, Counted>]) -> Vec<Linked<'_, u32, Counted>> {
        links.iter().filter_map(|l| l.get()).collect()
    }

    fn live(batch: &Shared<Batch<u32, Counted>>) -> Vec<u32> {
        batch.with_live(|entries| entries.map(|(key, _)| *key).collect())
    }

    // One test: the release counter is shared.
    #[test]
    fn batches_count_their_holders_and_allocate_cells_on_first_use() {
        assert!(each(&[]).is_empty());
        assert!(each(&[1])[0].get().is_none(), "one item makes no batch");
        assert!(links(&[1])[0].get().is_none());
        let mut alone = Link::default();
        alone.reset(Some((7, Counted(7))));
        let linked = alone
            .get()
            .map(|l| (l.batch().is_none(), l.peek().is_some()));
        assert_eq!(linked, Some((true, true)), "a cell of its own");
        drop(alone);
        assert_eq!(released(), 1, "a cell of its own is released with it");

        let mut each = each(&[10, 11, 12, 13]);
        assert_eq!(set(&each).len(), 4);
        assert!(set(&each).iter().all(|l| l.peek().is_none()));
        let keys: Vec<u32> = set(&each).iter().map(|l| *l.entry()).collect();
        assert_eq!(keys, [10, 11, 12, 13]);
        drop(each.remove(1));
        assert_eq!(released(), 1, "no cells allocated, nothing to release");
        let _cell: &Counted = set(&each)[0].cell();
        let peeked = set(&each).iter().all(|l| l.peek().is_some());
        assert!(peeked, "all cells at once");
        let batch = |links: &[Link<u32, Counted>]| links[0].get().and_then(|l| l.batch()).map(live);
        assert_eq!(batch(&each), Some(vec![10, 12, 13]));
        each.truncate(1);
        assert_eq!(released(), 3);
        assert_eq!(batch(&each), Some(vec![10]));

        // Two links to 5 share its entry: it stays live until both are
        // gone.
        let mut shared = links(&[5, 6, 5]);
        let cells: Vec<_> = shared
            .iter()
            .filter_map(|l| l.get())
            .map(|l| l.cell())
            .collect();
        assert_eq!(cells.len(), 3);
        assert!(std::ptr::eq(cells[0], cells[2]) && !std::ptr::eq(cells[0], cells[1]));
        assert_eq!(batch(&shared), Some(vec![5, 6]));
        drop(shared.remove(2));
        assert_eq!(batch(&shared), Some(vec![5, 6]));
        assert_eq!(released(), 3);
        drop(shared.remove(0));
        assert_eq!(batch(&shared), Some(vec![6]));
        assert_eq!(released(), 4);
    }
}
