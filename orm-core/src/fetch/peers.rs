//! Peer batches: the relation cells of the instances one query loaded, in
//! one shared allocation, so touching a relation on one of them can load it
//! for all.
//!
//! A query result gets one [`Batch`] per relation field; each instance
//! holds a [`Member`] handle (the batch and its index) instead of a cell
//! and a group of its own. Linking a result therefore costs one allocation
//! per relation field, not one or two per instance (issue 10).
//!
//! Peers are held weakly in the sense that matters: a dropped instance
//! marks its entry dead, and batches skip dead entries. A dead entry's
//! storage lives until the last instance of the batch is dropped; what an
//! entry caches can be released when its instance goes (see
//! [`Release`]).

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What an entry does when its instance is dropped: to-many slots drop
/// their rows; to-one cells keep their target until the batch is freed
/// (a loaded target cannot be taken back through a shared reference).
pub(crate) trait Release {
    fn release(&self) {}
}

struct Entry<C> {
    cell: C,
    alive: AtomicBool,
}

impl<C> Entry<C> {
    fn new(cell: C) -> Self {
        Entry {
            cell,
            alive: AtomicBool::new(true),
        }
    }
}

/// The cells of one relation field for the instances one query loaded (or
/// the cell of one instance loaded alone). The mutex serializes batch
/// loads, so two threads touching the same batch run the load once.
pub(crate) struct Batch<C> {
    entries: Entries<C>,
    lock: Mutex<()>,
}

/// A batch of one keeps its entry inline: one allocation, as a cell of
/// its own would cost.
enum Entries<C> {
    One(Entry<C>),
    Many(Box<[Entry<C>]>),
}

impl<C> Entries<C> {
    #[inline]
    fn get(&self, index: u32) -> &Entry<C> {
        match self {
            Entries::One(entry) => entry,
            Entries::Many(entries) => &entries[index as usize],
        }
    }

    fn as_slice(&self) -> &[Entry<C>] {
        match self {
            Entries::One(entry) => std::slice::from_ref(entry),
            Entries::Many(entries) => entries,
        }
    }
}

/// The cells of a batch being linked, collected in place (linking a large
/// result allocates its entries once).
struct Cells<C>(Vec<Entry<C>>);

impl<C> Cells<C> {
    fn with_capacity(capacity: usize) -> Self {
        Cells(Vec::with_capacity(capacity))
    }

    fn push(&mut self, cell: C) {
        self.0.push(Entry::new(cell));
    }
}

impl<C: Release> Batch<C> {
    /// Makes one batch of the cells of `items` (each with the place its
    /// member goes), sized from the iterator's upper bound; `place` stores
    /// each member. Fewer than two cells make no batch.
    pub(crate) fn link_each<'a, P: 'a>(
        items: impl Iterator<Item = (&'a P, C)>,
        place: impl Fn(&'a P, Member<C>),
    ) {
        let capacity = items.size_hint().1.unwrap_or(0);
        let mut places = Vec::with_capacity(capacity);
        let mut cells = Cells::with_capacity(capacity);
        for (at, cell) in items {
            places.push(at);
            cells.push(cell);
        }
        if let Some(members) = Batch::link(cells) {
            places
                .into_iter()
                .zip(members)
                .for_each(|(at, m)| place(at, m));
        }
    }

    /// One batch of `cells`, and a member handle per cell (in order).
    /// Fewer than two cells make no batch: `None`.
    fn link(cells: Cells<C>) -> Option<impl Iterator<Item = Member<C>>> {
        let len = u32::try_from(cells.0.len()).ok().filter(|&n| n >= 2)?;
        let batch = Arc::new(Batch {
            entries: Entries::Many(cells.0.into_boxed_slice()),
            lock: Mutex::new(()),
        });
        Some((0..len).map(move |index| Member {
            batch: Arc::clone(&batch),
            index,
        }))
    }

    /// A member alone: the cell of an instance in no query's batch.
    pub(crate) fn alone(cell: C) -> Member<C> {
        Member {
            batch: Arc::new(Batch {
                entries: Entries::One(Entry::new(cell)),
                lock: Mutex::new(()),
            }),
            index: 0,
        }
    }

    /// Runs `load` with the batch locked, on the cells of the live members
    /// (walked in place: a large batch is not copied).
    pub(crate) fn with_live<R>(&self, load: impl FnOnce(Live<'_, C>) -> R) -> R {
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        load(Live(self.entries.as_slice().iter()))
    }
}

/// The cells of a batch's live entries, in order. An entry whose instance
/// is dropped while the batch is walked is skipped from then on.
pub(crate) struct Live<'a, C>(std::slice::Iter<'a, Entry<C>>);

impl<C> Clone for Live<'_, C> {
    fn clone(&self) -> Self {
        Live(self.0.clone())
    }
}

impl<'a, C> Iterator for Live<'a, C> {
    type Item = &'a C;

    fn next(&mut self) -> Option<&'a C> {
        self.0
            .by_ref()
            .find(|e| e.alive.load(Ordering::Acquire))
            .map(|e| &e.cell)
    }
}

/// An instance's place in a [`Batch`]: dereferences to its cell. Dropping
/// it marks the entry dead and releases what the cell caches.
pub(crate) struct Member<C: Release> {
    batch: Arc<Batch<C>>,
    index: u32,
}

impl<C: Release> Member<C> {
    /// The batch this member belongs to.
    pub(crate) fn batch(&self) -> &Batch<C> {
        &self.batch
    }

    /// Whether the batch is a query's (not a cell of its own).
    pub(crate) fn in_batch(&self) -> bool {
        matches!(self.batch.entries, Entries::Many(_))
    }
}

impl<C: Release> Deref for Member<C> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        &self.batch.entries.get(self.index).cell
    }
}

impl<C: Release> Drop for Member<C> {
    fn drop(&mut self) {
        let entry = self.batch.entries.get(self.index);
        entry.alive.store(false, Ordering::Release);
        entry.cell.release();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Batch, Cells, Release};

    /// A cell counting its releases.
    struct Counted<'a>(u32, &'a AtomicUsize);

    impl Release for Counted<'_> {
        fn release(&self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn cells<'a>(n: u32, released: &'a AtomicUsize) -> Cells<Counted<'a>> {
        let mut cells = Cells::with_capacity(n as usize);
        (0..n).for_each(|i| cells.push(Counted(i, released)));
        cells
    }

    fn live(batch: &Batch<Counted<'_>>) -> Vec<u32> {
        batch.with_live(|cells| cells.map(|c| c.0).collect())
    }

    #[test]
    fn fewer_than_two_cells_make_no_batch() {
        let released = AtomicUsize::new(0);
        assert!(Batch::link(cells(0, &released)).is_none());
        assert!(Batch::link(cells(1, &released)).is_none());
        let alone = Batch::alone(Counted(7, &released));
        assert!(!alone.in_batch());
        assert_eq!(alone.0, 7);
    }

    #[test]
    fn dropped_members_leave_the_batch_and_release_their_cell() {
        let released = AtomicUsize::new(0);
        let mut members: Vec<_> = Batch::link(cells(4, &released))
            .map(Iterator::collect)
            .unwrap_or_default();
        assert_eq!(members.len(), 4);
        assert!(members.iter().all(|m| m.in_batch()));
        assert_eq!(
            members.iter().map(|m| m.0).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let second = members.remove(1);
        drop(second);
        assert_eq!(released.load(Ordering::Relaxed), 1);
        assert_eq!(live(members[0].batch()), [0, 2, 3]);
        members.truncate(1);
        assert_eq!(released.load(Ordering::Relaxed), 3);
        assert_eq!(live(members[0].batch()), [0]);
    }
}
