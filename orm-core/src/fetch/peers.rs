//! Peer batches: the relation cells of the instances one query loaded,
//! shared, so touching a relation on one of them can load it for all.
//!
//! A query result gets one [`Batch`] per relation field: an *entry* per
//! key to load by (an owner key for a to-many field; a target key for a
//! to-one field, shared by the instances pointing at the same row), and
//! each instance holds a [`Member`] handle (the batch and its entry's
//! index). The cells are allocated on the first use of any member, all at
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
        place: impl Fn(&'a P, Member<E, C>),
    ) {
        let capacity = items.size_hint().1.unwrap_or(0);
        let mut places = Vec::with_capacity(capacity);
        let mut entries = Vec::with_capacity(capacity);
        for (index, (at, entry)) in (0u32..).zip(items) {
            places.push((at, index));
            entries.push(entry);
        }
        let holders = vec![1; entries.len()];
        Batch::link(places, entries, holders, place);
    }

    /// Like [`link_each`](Self::link_each), with one entry per distinct
    /// key: the items pointing at the same row share its cell.
    pub(crate) fn link_shared<'a, P: 'a>(
        items: impl Iterator<Item = (&'a P, E)>,
        place: impl Fn(&'a P, Member<E, C>),
    ) where
        E: Hash + Eq + Clone,
    {
        let capacity = items.size_hint().1.unwrap_or(0);
        let mut places = Vec::with_capacity(capacity);
        let mut entries = Vec::new();
        let mut holders: Vec<u32> = Vec::new();
        let mut index_of: HashMap<E, u32> = HashMap::new();
        for (at, entry) in items {
            let index = match index_of.entry(entry) {
                Entry::Occupied(seen) => *seen.get(),
                Entry::Vacant(new) => {
                    let Ok(index) = u32::try_from(entries.len()) else {
                        return;
                    };
                    entries.push(new.key().clone());
                    holders.push(0);
                    *new.insert(index)
                }
            };
            holders[index as usize] += 1;
            places.push((at, index));
        }
        Batch::link(places, entries, holders, place);
    }

    /// One batch of `entries` (with their holder counts), a member for
    /// each place. Fewer than two places make no batch.
    fn link<'a, P: 'a>(
        places: Vec<(&'a P, u32)>,
        entries: Vec<E>,
        holders: Vec<u32>,
        place: impl Fn(&'a P, Member<E, C>),
    ) {
        if places.len() < 2 || u32::try_from(places.len()).is_err() {
            return;
        }
        let batch = Arc::new(Batch {
            entries: Entries::Many {
                entries: entries.into_boxed_slice(),
                holders: holders.into_iter().map(AtomicU32::new).collect(),
                cells: OnceLock::new(),
            },
            lock: Mutex::new(()),
        });
        for (at, index) in places {
            let batch = Arc::clone(&batch);
            place(at, Member { batch, index });
        }
    }

    /// A member alone: the cell of an instance in no query's batch.
    pub(crate) fn alone(entry: E, cell: C) -> Member<E, C> {
        Member {
            batch: Arc::new(Batch {
                entries: Entries::One { entry, cell },
                lock: Mutex::new(()),
            }),
            index: 0,
        }
    }

    /// Entry `index`'s cell, allocating the cells if needed.
    #[inline]
    fn cell(&self, index: u32) -> &C {
        match &self.entries {
            Entries::One { cell, .. } => cell,
            Entries::Many { cells, .. } => &self.cells(cells)[index as usize],
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

    /// The cells of a query's batch, empty ones allocated on first use.
    fn cells<'b>(&'b self, cells: &'b OnceLock<Box<[C]>>) -> &'b [C] {
        cells.get_or_init(|| {
            let len = match &self.entries {
                Entries::One { .. } => 1,
                Entries::Many { entries, .. } => entries.len(),
            };
            (0..len).map(|_| C::default()).collect()
        })
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
                cells: self.cells(cells),
                holders,
                next: 0,
            },
        };
        load(live)
    }
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

    /// Whether the batch is a query's (not a cell of its own).
    pub(crate) fn in_batch(&self) -> bool {
        matches!(self.batch.entries, Entries::Many { .. })
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Batch, Member, Release};

    /// Counts the releases of every cell.
    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    #[derive(Default)]
    struct Counted;

    impl Release for Counted {
        fn release(&self) {
            RELEASED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn released() -> usize {
        RELEASED.load(Ordering::Relaxed)
    }

    /// The members of one batch of `keys`, an entry per key (`shared`:
    /// per distinct key).
    fn linked(keys: &[u32], shared: bool) -> Vec<Member<u32, Counted>> {
        let places: Vec<std::sync::Mutex<Option<Member<u32, Counted>>>> =
            keys.iter().map(|_| Default::default()).collect();
        let items = places.iter().zip(keys.iter().copied());
        let place = |at: &std::sync::Mutex<_>, m| *at.lock().unwrap() = Some(m);
        if shared {
            Batch::link_shared(items, place);
        } else {
            Batch::link_each(items, place);
        }
        places
            .into_iter()
            .filter_map(|p| p.into_inner().unwrap())
            .collect()
    }

    fn live(batch: &Batch<u32, Counted>) -> Vec<u32> {
        batch.with_live(|entries| entries.map(|(key, _)| *key).collect())
    }

    // One test: the release counter is shared.
    #[test]
    fn batches_count_their_holders_and_allocate_cells_on_first_use() {
        assert!(linked(&[], false).is_empty());
        assert!(linked(&[1], false).is_empty(), "one item makes no batch");
        let alone = Batch::alone(7, Counted);
        assert!(!alone.in_batch());
        assert_eq!(*alone.entry(), 7);
        assert!(alone.peek().is_some());
        drop(alone);
        assert_eq!(released(), 1, "a cell of its own is released with it");

        let mut each = linked(&[10, 11, 12, 13], false);
        assert_eq!(each.len(), 4);
        assert!(each.iter().all(|m| m.in_batch() && m.peek().is_none()));
        assert_eq!(
            each.iter().map(|m| *m.entry()).collect::<Vec<_>>(),
            [10, 11, 12, 13]
        );
        drop(each.remove(1));
        assert_eq!(released(), 1, "no cells allocated, nothing to release");
        let _cell: &Counted = &each[0];
        assert!(each.iter().all(|m| m.peek().is_some()), "all cells at once");
        assert_eq!(live(each[0].batch()), [10, 12, 13]);
        each.truncate(1);
        assert_eq!(released(), 3);
        assert_eq!(live(each[0].batch()), [10]);

        // Two instances pointing at 5 share its entry: it stays live
        // until both are gone.
        let mut shared = linked(&[5, 6, 5], true);
        assert_eq!(shared.len(), 3);
        assert!(std::ptr::eq(&*shared[0], &*shared[2]));
        assert_eq!(live(shared[0].batch()), [5, 6]);
        drop(shared.remove(2));
        assert_eq!(live(shared[0].batch()), [5, 6]);
        assert_eq!(released(), 3);
        drop(shared.remove(0));
        assert_eq!(live(shared[0].batch()), [6]);
        assert_eq!(released(), 4);
    }
}
