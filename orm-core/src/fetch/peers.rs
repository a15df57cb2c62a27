//! Peer batches: the relation cells of the instances one query loaded,
//! shared, so touching a relation on one of them can load it for all.
//!
//! A query result gets one [`Batch`] per relation field: an *entry* per
//! key to load by (an owner key for a to-many field; a target key for a
//! to-one field, shared by the instances pointing at the same row), and
//! each instance holds a handle to its entry: a [`Member`] in a to-many
//! slot, a [`Link`] in a to-one field. The cells are allocated on the first use of any member, all at
//! once: a relation nobody touches costs its keys and nothing more
//! (issue 10).
//!
//! Peers are held weakly in the sense that matters: an entry counts the
//! live instances holding it, and batch loads skip entries nobody holds.
//! A dropped entry's storage lives until the last instance of the batch
//! is dropped; what an entry caches can be released when its last holder
//! goes (see [`Release`]).

use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use foldhash::{HashMap, HashMapExt};

use super::once_arc::OnceArc;
use super::{FetchMode, ModeCell};

/// A batch cell: empty when allocated; what it does when no instance
/// holds it any more. To-many slots drop their rows; to-one cells keep
/// their target until the batch is freed (a loaded target cannot be taken
/// back through a shared reference).
pub(crate) trait Release: Default {
    fn release(&self) {}
}

/// The entries of one relation field for the instances one query loaded
/// (or the cell of one instance loaded alone). The mutex serializes batch
/// loads, so two threads touching the same batch run the load once.
pub(crate) struct Batch<E, C> {
    entries: Entries<E, C>,
    lock: Mutex<()>,
}

enum Entries<E, C> {
    /// A cell of its own, inline: one allocation, as a box would cost.
    One { entry: E, cell: C },
    /// A query's: each entry's key and live holders, and the cells,
    /// allocated on first use.
    Many {
        entries: Box<[E]>,
        holders: Box<[AtomicU32]>,
        cells: OnceLock<Box<[C]>>,
    },
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
        let holders = entries.iter().map(|_| AtomicU32::new(1)).collect();
        Batch::link(places, entries, holders, place);
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
        let mut holders: Vec<AtomicU32> = Vec::new();
        let mut index_of: HashMap<E, u32> = HashMap::new();
        for (at, entry) in items {
            let index = match index_of.entry(entry) {
                Entry::Occupied(seen) => *seen.get(),
                Entry::Vacant(new) => {
                    let Ok(index) = u32::try_from(entries.len()) else {
                        return;
                    };
                    entries.push(new.key().clone());
                    holders.push(AtomicU32::new(0));
                    *new.insert(index)
                }
            };
            *holders[index as usize].get_mut() += 1;
            places.push((at, index));
        }
        Batch::link(places, entries, holders, place);
    }

    /// One batch of `entries` (with their holder counts), a member for
    /// each place. Fewer than two places make no batch.
    fn link<'a, P: 'a>(
        places: Vec<(&'a P, u32)>,
        entries: Vec<E>,
        holders: Vec<AtomicU32>,
        place: impl Fn(&'a P, Holder<E, C>),
    ) {
        if places.len() < 2 {
            return;
        }
        let batch = Arc::new(Batch {
            entries: Entries::Many {
                entries: entries.into_boxed_slice(),
                holders: holders.into_boxed_slice(),
                cells: OnceLock::new(),
            },
            lock: Mutex::new(()),
        });
        for (at, index) in places {
            place(at, Holder(Arc::clone(&batch), index));
        }
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
            Entries::Many { entries, cells, .. } => &allocated(entries, cells)[index as usize],
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

    /// One holder of entry `index` is gone: the last one releases its
    /// cell, and batch loads skip the entry from now on.
    fn leave(&self, index: u32) {
        match &self.entries {
            Entries::One { cell, .. } => cell.release(),
            Entries::Many { holders, cells, .. } => {
                if holders[index as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(cells) = cells.get() {
                        cells[index as usize].release();
                    }
                }
            }
        }
    }

    /// Runs `load` with the batch locked, on the entries still held and
    /// their cells (walked in place: a large batch is not copied).
    pub(crate) fn with_live<R>(&self, load: impl FnOnce(Live<'_, E, C>) -> R) -> R {
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let live = match &self.entries {
            Entries::One { entry, cell } => Live {
                entries: std::slice::from_ref(entry),
                cells: std::slice::from_ref(cell),
                holders: &[],
                next: 0,
            },
            Entries::Many {
                entries,
                holders,
                cells,
            } => Live {
                entries,
                cells: allocated(entries, cells),
                holders,
                next: 0,
            },
        };
        load(live)
    }
}

/// The cells of a query's batch `entries`, allocated (empty) on first use.
fn allocated<'a, E, C: Default>(entries: &[E], cells: &'a OnceLock<Box<[C]>>) -> &'a [C] {
    cells.get_or_init(|| entries.iter().map(|_| C::default()).collect())
}

/// The entries of a batch still held, with their cells, in order. An
/// entry whose last holder is dropped while the batch is walked is
/// skipped from then on. (A batch of one has no holder counts: its entry
/// is held while anyone can walk it.)
pub(crate) struct Live<'a, E, C> {
    entries: &'a [E],
    cells: &'a [C],
    holders: &'a [AtomicU32],
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
            let held = self.holders.get(index);
            if held.is_none_or(|h| h.load(Ordering::Acquire) > 0) {
                return Some((&self.entries[index], &self.cells[index]));
            }
        }
        None
    }
}

/// A holder of entry `.1` of a batch, as linking hands it out: to be
/// made a [`Member`] or set in a [`Link`], whose drop leaves the entry.
pub(crate) struct Holder<E, C>(Arc<Batch<E, C>>, u32);

impl<E, C: Release> From<Holder<E, C>> for Member<E, C> {
    fn from(Holder(batch, index): Holder<E, C>) -> Self {
        Member { batch, index }
    }
}

/// An instance's place in a [`Batch`]: dereferences to its entry's cell
/// (allocating the batch's cells on first use). Dropping it leaves the
/// entry.
pub(crate) struct Member<E, C: Release> {
    batch: Arc<Batch<E, C>>,
    index: u32,
}

impl<E, C: Release> Member<E, C> {
    /// The batch this member belongs to.
    pub(crate) fn batch(&self) -> &Batch<E, C> {
        &self.batch
    }

    /// The key the member's entry loads by.
    pub(crate) fn entry(&self) -> &E {
        self.batch.entry(self.index)
    }

    /// The member's cell, if the batch's cells are allocated (nothing is
    /// allocated to answer).
    #[inline]
    pub(crate) fn peek(&self) -> Option<&C> {
        self.batch.peek(self.index)
    }
}

impl<E, C: Release> Deref for Member<E, C> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        self.batch.cell(self.index)
    }
}

impl<E, C: Release> Drop for Member<E, C> {
    fn drop(&mut self) {
        self.batch.leave(self.index);
    }
}

/// A [`Member`] set at most once, and the instance's fetch mode for the
/// relation, in two words: the batch (a pointer set once, see
/// [`OnceArc`]), the index, the mode and a flag of the holder. What a
/// to-one field holds, in every instance a query loads.
pub(crate) struct Link<E, C: Release> {
    batch: OnceArc<Batch<E, C>>,
    /// Stored before `batch` is set; read after it is.
    index: AtomicU32,
    mode: ModeCell,
    /// A flag of the field holding the link (a foreign key: whether it
    /// has a key), kept in what would be padding: a foreign key of an
    /// integer takes 24 bytes, not 32.
    flag: bool,
}

impl<E, C: Release> Default for Link<E, C> {
    fn default() -> Self {
        Link {
            batch: OnceArc::default(),
            index: AtomicU32::new(0),
            mode: ModeCell::default(),
            flag: false,
        }
    }
}

impl<E, C: Release> Link<E, C> {
    /// The member, if set.
    #[inline]
    pub(crate) fn get(&self) -> Option<Linked<'_, E, C>> {
        let batch = self.batch.get()?;
        let index = self.index.load(Ordering::Relaxed);
        Some(Linked { batch, index })
    }

    /// The member, set to a cell of its own (`alone`) if it was not.
    pub(crate) fn get_or_init(&self, alone: impl FnOnce() -> (E, C)) -> Linked<'_, E, C> {
        let batch = self.batch.get_or_init(|| {
            let (entry, cell) = alone();
            Arc::new(Batch::one(entry, cell))
        });
        let index = self.index.load(Ordering::Relaxed);
        Linked { batch, index }
    }

    /// Sets the link to entry `index` of `batch` (a query linking the rows
    /// it loaded, which no other thread sees yet); a link set already
    /// stays, and the entry loses this holder. (Were a batch of one set
    /// in between, it would read the index stored here: a batch of one
    /// ignores it.)
    pub(crate) fn set(&self, Holder(batch, index): Holder<E, C>) {
        let refused = match self.batch.get() {
            Some(_) => Some(batch),
            None => {
                self.index.store(index, Ordering::Relaxed);
                self.batch.set(batch).err()
            }
        };
        if let Some(batch) = refused {
            batch.leave(index);
        }
    }

    /// Leaves the batch for a cell of its own holding `alone`, or for
    /// none; the mode stays.
    pub(crate) fn reset(&mut self, alone: Option<(E, C)>) {
        if let Some(left) = self.batch.take() {
            left.leave(*self.index.get_mut());
        }
        *self.index.get_mut() = 0;
        if let Some((entry, cell)) = alone {
            self.batch = OnceArc::from(Arc::new(Batch::one(entry, cell)));
        }
    }

    /// The instance's fetch mode for the relation.
    pub(crate) fn mode(&self) -> Option<FetchMode> {
        self.mode.get()
    }

    pub(crate) fn set_mode(&self, mode: Option<FetchMode>) {
        self.mode.set(mode);
    }

    /// The flag of the field holding the link.
    #[inline]
    pub(crate) fn flag(&self) -> bool {
        self.flag
    }

    pub(crate) fn set_flag(&mut self, flag: bool) {
        self.flag = flag;
    }
}

impl<E, C: Release> Drop for Link<E, C> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.get() {
            batch.leave(*self.index.get_mut());
        }
    }
}

/// A set [`Link`], borrowed: the batch and the entry's index.
pub(crate) struct Linked<'a, E, C> {
    batch: &'a Batch<E, C>,
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
    pub(crate) fn batch(self) -> Option<&'a Batch<E, C>> {
        matches!(self.batch.entries, Entries::Many { .. }).then_some(self.batch)
    }

    /// The cell (allocating the batch's cells on first use).
    #[inline]
    pub(crate) fn cell(self) -> &'a C {
        self.batch.cell(self.index)
    }

    /// The cell, if the batch's cells are allocated.
    #[inline]
    pub(crate) fn peek(self) -> Option<&'a C> {
        self.batch.peek(self.index)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::{Batch, Holder, Link, Member, Release};

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

    /// The members of one batch of `keys`, an entry per key.
    fn members(keys: &[u32]) -> Vec<Member<u32, Counted>> {
        let places: Vec<Mutex<Option<Member<u32, Counted>>>> =
            keys.iter().map(|_| Mutex::default()).collect();
        let items = places.iter().zip(keys.iter().copied());
        Batch::link_each(items, |at, holder: Holder<_, _>| {
            *at.lock().unwrap() = Some(holder.into())
        });
        places
            .into_iter()
            .filter_map(|p| p.into_inner().unwrap())
            .collect()
    }

    /// Links to one batch of `keys`, an entry per distinct key (none
    /// set under two keys).
    fn links(keys: &[u32]) -> Vec<Link<u32, Counted>> {
        let links: Vec<Link<u32, Counted>> = keys.iter().map(|_| Link::default()).collect();
        Batch::link_shared(links.iter().zip(keys.iter().copied()), Link::set);
        links
    }

    fn live(batch: &Batch<u32, Counted>) -> Vec<u32> {
        batch.with_live(|entries| entries.map(|(key, _)| *key).collect())
    }

    // One test: the release counter is shared.
    #[test]
    fn batches_count_their_holders_and_allocate_cells_on_first_use() {
        assert!(members(&[]).is_empty());
        assert!(members(&[1]).is_empty(), "one item makes no batch");
        assert!(links(&[1])[0].get().is_none());
        let mut alone = Link::default();
        alone.reset(Some((7, Counted(7))));
        let linked = alone
            .get()
            .map(|l| (l.batch().is_none(), l.peek().is_some()));
        assert_eq!(linked, Some((true, true)), "a cell of its own");
        drop(alone);
        assert_eq!(released(), 1, "a cell of its own is released with it");

        let mut each = members(&[10, 11, 12, 13]);
        assert_eq!(each.len(), 4);
        assert!(each.iter().all(|m| m.peek().is_none()));
        let keys: Vec<u32> = each.iter().map(|m| *m.entry()).collect();
        assert_eq!(keys, [10, 11, 12, 13]);
        drop(each.remove(1));
        assert_eq!(released(), 1, "no cells allocated, nothing to release");
        let _cell: &Counted = &each[0];
        assert!(each.iter().all(|m| m.peek().is_some()), "all cells at once");
        assert_eq!(live(each[0].batch()), [10, 12, 13]);
        each.truncate(1);
        assert_eq!(released(), 3);
        assert_eq!(live(each[0].batch()), [10]);

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
        let batch = |links: &[Link<u32, Counted>]| links[0].get().and_then(|l| l.batch()).map(live);
        assert_eq!(batch(&shared), Some(vec![5, 6]));
        drop(shared.remove(2));
        assert_eq!(batch(&shared), Some(vec![5, 6]));
        assert_eq!(released(), 3);
        drop(shared.remove(0));
        assert_eq!(batch(&shared), Some(vec![6]));
        assert_eq!(released(), 4);
    }
}
