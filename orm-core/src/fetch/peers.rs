//! Peer batches: the relation cells of the instances one query loaded,
//! shared, so touching a relation on one of them can load it for all.
//!
//! A query result gets one [`Batch`] per relation field; each instance
//! holds a [`Member`] handle (the batch and its index) instead of a cell
//! and a group of its own. Linking a result therefore costs three
//! allocations per relation field (the batch, its cells, their alive
//! bits), not one or two per instance (issue 10).
//!
//! Peers are held weakly in the sense that matters: a dropped instance
//! marks its entry dead, and batches skip dead entries. A dead entry's
//! storage lives until the last instance of the batch is dropped; what an
//! entry caches can be released when its instance goes (see
//! [`Release`]).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What an entry does when its instance is dropped: to-many slots drop
/// their rows; to-one cells keep their target until the batch is freed
/// (a loaded target cannot be taken back through a shared reference).
pub(crate) trait Release {
    fn release(&self) {}
}

/// The cells of one relation field for the instances one query loaded (or
/// the cell of one instance loaded alone). The mutex serializes batch
/// loads, so two threads touching the same batch run the load once.
pub(crate) struct Batch<C> {
    entries: Entries<C>,
    lock: Mutex<()>,
}

/// The cells, and one bit per cell saying whether its instance is alive
/// (a flag beside each cell would pad it by a word). A batch of one keeps
/// its cell inline: one allocation, as a cell of its own would cost.
enum Entries<C> {
    One {
        cell: C,
        alive: AtomicU64,
    },
    Many {
        cells: Box<[C]>,
        alive: Box<[AtomicU64]>,
    },
}

/// The word of the alive bits holding entry `index`'s, and its mask.
fn bit(index: usize) -> (usize, u64) {
    (index / 64, 1 << (index % 64))
}

impl<C> Entries<C> {
    #[inline]
    fn get(&self, index: u32) -> &C {
        match self {
            Entries::One { cell, .. } => cell,
            Entries::Many { cells, .. } => &cells[index as usize],
        }
    }

    fn cells(&self) -> &[C] {
        match self {
            Entries::One { cell, .. } => std::slice::from_ref(cell),
            Entries::Many { cells, .. } => cells,
        }
    }

    fn alive(&self) -> &[AtomicU64] {
        match self {
            Entries::One { alive, .. } => std::slice::from_ref(alive),
            Entries::Many { alive, .. } => alive,
        }
    }

    /// Marks entry `index` dead: batch loads skip it from now on.
    fn kill(&self, index: u32) {
        let (word, mask) = bit(index as usize);
        self.alive()[word].fetch_and(!mask, Ordering::Release);
    }
}

/// `len` alive bits.
fn all_alive(len: usize) -> Box<[AtomicU64]> {
    (0..len.div_ceil(64))
        .map(|word| {
            let bits = (len - word * 64).min(64);
            AtomicU64::new(u64::MAX >> (64 - bits))
        })
        .collect()
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
        let mut cells = Vec::with_capacity(capacity);
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
    fn link(cells: Vec<C>) -> Option<impl Iterator<Item = Member<C>>> {
        let len = u32::try_from(cells.len()).ok().filter(|&n| n >= 2)?;
        let batch = Arc::new(Batch {
            entries: Entries::Many {
                alive: all_alive(cells.len()),
                cells: cells.into_boxed_slice(),
            },
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
                entries: Entries::One {
                    cell,
                    alive: AtomicU64::new(1),
                },
                lock: Mutex::new(()),
            }),
            index: 0,
        }
    }

    /// Runs `load` with the batch locked, on the cells of the live members
    /// (walked in place: a large batch is not copied).
    pub(crate) fn with_live<R>(&self, load: impl FnOnce(Live<'_, C>) -> R) -> R {
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        load(Live {
            cells: self.entries.cells().iter().enumerate(),
            alive: self.entries.alive(),
        })
    }
}

/// The cells of a batch's live entries, in order. An entry whose instance
/// is dropped while the batch is walked is skipped from then on.
pub(crate) struct Live<'a, C> {
    cells: std::iter::Enumerate<std::slice::Iter<'a, C>>,
    alive: &'a [AtomicU64],
}

impl<C> Clone for Live<'_, C> {
    fn clone(&self) -> Self {
        Live {
            cells: self.cells.clone(),
            alive: self.alive,
        }
    }
}

impl<'a, C> Iterator for Live<'a, C> {
    type Item = &'a C;

    fn next(&mut self) -> Option<&'a C> {
        let alive = self.alive;
        self.cells
            .by_ref()
            .find(|(index, _)| {
                let (word, mask) = bit(*index);
                alive[word].load(Ordering::Acquire) & mask != 0
            })
            .map(|(_, cell)| cell)
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
        matches!(self.batch.entries, Entries::Many { .. })
    }
}

impl<C: Release> Deref for Member<C> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        self.batch.entries.get(self.index)
    }
}

impl<C: Release> Drop for Member<C> {
    fn drop(&mut self) {
        let entries = &self.batch.entries;
        entries.kill(self.index);
        entries.get(self.index).release();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Batch, Member, Release};

    /// A cell counting its releases.
    struct Counted<'a>(u32, &'a AtomicUsize);

    impl Release for Counted<'_> {
        fn release(&self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn cells(n: u32, released: &AtomicUsize) -> Vec<Counted<'_>> {
        (0..n).map(|i| Counted(i, released)).collect()
    }

    /// The members of one batch of `n` cells (none under two).
    fn linked(n: u32, released: &AtomicUsize) -> Vec<Member<Counted<'_>>> {
        Batch::link(cells(n, released))
            .map(Iterator::collect)
            .unwrap_or_default()
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
        let mut members: Vec<_> = linked(4, &released);
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

    #[test]
    fn a_batch_of_whole_words_starts_all_alive() {
        let released = AtomicUsize::new(0);
        for n in [64, 128] {
            let members: Vec<_> = linked(n, &released);
            assert_eq!(live(members[0].batch()), (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn alive_bits_span_several_words() {
        let released = AtomicUsize::new(0);
        let mut members: Vec<_> = linked(130, &released);
        assert_eq!(live(members[0].batch()).len(), 130);
        // Entries 129, 64 and 63: the last word's only bit, and both sides
        // of a word boundary.
        for index in [129, 64, 63] {
            members.remove(index);
        }
        let left = live(members[0].batch());
        assert_eq!(left.len(), 127);
        assert!(!left.iter().any(|i| [63, 64, 129].contains(i)));
        assert_eq!(left.last(), Some(&128));
        assert_eq!(released.load(Ordering::Relaxed), 3);
    }
}
