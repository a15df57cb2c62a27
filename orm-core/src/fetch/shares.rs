//! [`Shared`]: a value on the heap held by entry, not by pointer.
//!
//! A peer batch is held by every instance one query loaded: a reference
//! count bumped and dropped per instance costs two atomic
//! read-modify-writes per row, and a third for the entry's own count of
//! holders (issue 10). Here an entry's holders are counted once, in the
//! entry, and together they hold the value: the value counts its *entries*
//! still held, and is freed when the last one loses its last holder. The
//! counts of a batch are set when it is handed out, in plain writes; a
//! holder leaving is one atomic subtraction.
//!
//! Unsafe code lives here and in `once_arc`; each block says why it holds.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

/// What a [`Shared`] value does when one of its entries loses its last
/// holder (the value itself stays until every entry has). It may run
/// while another thread walks the value, and the drops it causes may
/// leave other entries; it must not wait for what a walk holds (the
/// batch's lock: a share may be dropped during a walk).
pub(crate) trait Unheld {
    fn unheld(&self, index: u32);
}

/// A value with entries, each held by [`Share`]s; freed when no entry is
/// held any more.
pub(crate) struct Shared<T> {
    value: T,
    /// Each entry's holders; empty for a value made [`alone`]
    /// (`Share::alone`), whose one holder `live` counts.
    ///
    /// [`alone`]: Share::alone
    holders: Box<[AtomicU32]>,
    /// The entries still held.
    live: AtomicU32,
}

impl<T> Shared<T> {
    pub(crate) fn value(&self) -> &T {
        &self.value
    }

    /// Whether entry `index` has a holder (the entry of a value made
    /// alone is held while it can be reached).
    #[inline]
    pub(crate) fn is_held(&self, index: usize) -> bool {
        self.holders
            .get(index)
            .is_none_or(|h| h.load(Ordering::Acquire) > 0)
    }
}

/// One holder of entry `index` of a [`Shared`] value: it reaches the
/// value as an `Arc` would, and dropping it leaves the entry.
pub(crate) struct Share<T: Unheld> {
    /// A leaked `Box`; alive while this share holds its entry.
    shared: NonNull<Shared<T>>,
    index: u32,
    _holds: PhantomData<Shared<T>>,
}

// SAFETY: a share gives `&T` to any thread and may drop the value on
// any thread, as an `Arc<T>` does: the same bounds.
unsafe impl<T: Unheld + Send + Sync> Send for Share<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Unheld + Send + Sync> Sync for Share<T> {}

impl<T: Unheld> Share<T> {
    /// The one holder of a value of one entry (index 0).
    pub(crate) fn alone(value: T) -> Self {
        let shared = Box::new(Shared {
            value,
            holders: Box::default(),
            live: AtomicU32::new(1),
        });
        Share {
            shared: NonNull::from(Box::leak(shared)),
            index: 0,
            _holds: PhantomData,
        }
    }

    /// Hands out `value`, of `entries` entries: `give` gets a share of
    /// each place's entry (an index below `entries`; a place naming none
    /// gets nothing). Entries no place names are not held from the start.
    /// Nothing is handed out when no place names an entry, or when there
    /// are more places than a count holds. (Were `give` to panic, the
    /// value would never be freed: it counts the shares not given yet.)
    pub(crate) fn hand_out<P>(
        value: T,
        entries: usize,
        places: Vec<(P, u32)>,
        mut give: impl FnMut(P, Share<T>),
    ) {
        // No count can then overflow: each is at most the places.
        if u32::try_from(places.len()).is_err() {
            return;
        }
        let mut holders: Vec<AtomicU32> = (0..entries).map(|_| AtomicU32::new(0)).collect();
        let mut live = 0u32;
        for (_, index) in &places {
            if let Some(count) = holders.get_mut(*index as usize) {
                let count = count.get_mut();
                live += u32::from(*count == 0);
                *count += 1;
            }
        }
        if live == 0 {
            return;
        }
        let shared = NonNull::from(Box::leak(Box::new(Shared {
            value,
            holders: holders.into_boxed_slice(),
            live: AtomicU32::new(live),
        })));
        for (place, index) in places {
            if (index as usize) < entries {
                // Each share made here was counted above.
                give(
                    place,
                    Share {
                        shared,
                        index,
                        _holds: PhantomData,
                    },
                );
            }
        }
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The value and the holder counts.
    #[inline]
    pub(crate) fn shared(&self) -> &Shared<T> {
        // SAFETY: this share holds its entry, so the value is not freed
        // before the share is dropped, which needs it unborrowed.
        unsafe { self.shared.as_ref() }
    }

    /// Gives up the share without leaving: the pointer carries it.
    fn into_raw(self) -> *mut Shared<T> {
        let shared = self.shared.as_ptr();
        std::mem::forget(self);
        shared
    }

    /// The share `into_raw` gave up.
    ///
    /// # Safety
    ///
    /// `shared` came from `into_raw` of a share of entry `index`, and
    /// this is the only share made back from it.
    unsafe fn from_raw(shared: *mut Shared<T>, index: u32) -> Self {
        Share {
            // SAFETY: `into_raw` gave a pointer from a `NonNull`.
            shared: unsafe { NonNull::new_unchecked(shared) },
            index,
            _holds: PhantomData,
        }
    }
}

impl<T: Unheld> Drop for Share<T> {
    fn drop(&mut self) {
        let shared = self.shared();
        let entry_left = if shared.holders.is_empty() {
            // A value made alone: its one holder.
            true
        } else {
            debug_assert!((self.index as usize) < shared.holders.len());
            shared.holders[self.index as usize].fetch_sub(1, Ordering::AcqRel) == 1
        };
        // Another holder of the entry keeps the value: it may be freed
        // from now on, so nothing here touches it again.
        if !entry_left {
            return;
        }
        // The entry still counts as live while `unheld` runs: drops it
        // causes (rows holding shares of this value too) cannot free the
        // value under it. The entry leaves after it, also if it panics.
        let leave = LeaveEntry(self.shared);
        shared.value.unheld(self.index);
        drop(leave);
    }
}

/// Takes a held-no-more entry off its value's live entries, freeing the
/// value after the last one.
struct LeaveEntry<T>(NonNull<Shared<T>>);

impl<T> Drop for LeaveEntry<T> {
    fn drop(&mut self) {
        // SAFETY: the entry leaving still counts as live, so the value
        // is not freed yet.
        let live = unsafe { &self.0.as_ref().live };
        if live.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: no entry is held: no share is left to reach the
            // value (the acquire ordering saw every holder's use of it),
            // and it came from `Box::leak`.
            drop(unsafe { Box::from_raw(self.0.as_ptr()) });
        }
    }
}

/// A [`Share`] set at most once through a shared reference, or replaced
/// through a unique one: what a foreign key, or a to-many field's slot,
/// holds for its peer batch. The pointer is the state: null until set,
/// so a read is one load and a null check. A set first claims the cell
/// (one flag, set at most once), so that two sets cannot mix one's
/// pointer with the other's index. `beside` is the holder's own small
/// state, kept in what would be padding (on 64-bit targets a pointer, an
/// index and the flag leave three bytes).
pub(crate) struct OnceShare<T: Unheld, X> {
    /// Null, or a pointer from [`Share::into_raw`] whose share this cell
    /// owns.
    shared: AtomicPtr<Shared<T>>,
    /// The share's entry: stored before the pointer is published, read
    /// after it is seen.
    index: AtomicU32,
    /// Whether a set took the cell: it stores the index, then the
    /// pointer. Cleared only by `take`.
    claimed: AtomicBool,
    pub(crate) beside: X,
    _holds: PhantomData<Share<T>>,
}

impl<T: Unheld, X: Default> Default for OnceShare<T, X> {
    fn default() -> Self {
        OnceShare {
            shared: AtomicPtr::new(ptr::null_mut()),
            index: AtomicU32::new(0),
            claimed: AtomicBool::new(false),
            beside: X::default(),
            _holds: PhantomData,
        }
    }
}

impl<T: Unheld, X> OnceShare<T, X> {
    /// The value and the entry, if set.
    #[inline]
    pub(crate) fn get(&self) -> Option<(&Shared<T>, u32)> {
        let shared = self.shared.load(Ordering::Acquire);
        // SAFETY: a pointer other than null came from `Share::into_raw`,
        // and the cell owns that share until it is dropped or taken, both
        // of which need `&mut self`: the value outlives this borrow. The
        // acquire load sees the value and the index stored before the
        // pointer was.
        let shared = unsafe { shared.as_ref()? };
        Some((shared, self.index.load(Ordering::Relaxed)))
    }

    /// Sets the share unless one is set (or being set); a share refused
    /// is dropped (its entry loses the holder).
    pub(crate) fn set(&self, share: Share<T>) {
        if self.claim() {
            self.publish(share);
        }
    }

    /// The value and the entry, set to a value of one entry (`alone()`)
    /// first if none is. Two threads racing may both run `alone`; one
    /// value is kept, the other dropped.
    pub(crate) fn get_or_init(&self, alone: impl FnOnce() -> T) -> (&Shared<T>, u32) {
        if let Some(set) = self.get() {
            return set;
        }
        // Made before the claim: between a claim and its publication
        // nothing runs that could panic and leave the cell claimed.
        let mut mine = Some(Share::alone(alone()));
        let mut spins = 0u32;
        loop {
            if let Some(set) = self.get() {
                return set;
            }
            match mine.take() {
                Some(share) if self.claim() => self.publish(share),
                // Another thread is between its claim and its
                // publication, two stores away (unless it was preempted
                // there: then it needs the core).
                unused => {
                    mine = unused;
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Takes the cell for a set; false if another set took it (it is
    /// set, or about to be).
    fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::Relaxed)
    }

    /// Stores a claimed cell's share: the index, then the pointer.
    fn publish(&self, share: Share<T>) {
        self.index.store(share.index(), Ordering::Relaxed);
        self.shared.store(share.into_raw(), Ordering::Release);
    }

    /// Takes the share out, leaving the cell unset.
    pub(crate) fn take(&mut self) -> Option<Share<T>> {
        let shared = std::mem::replace(self.shared.get_mut(), ptr::null_mut());
        let index = std::mem::take(self.index.get_mut());
        // A claim is published within the `&self` call that made it, so
        // with `&mut self` the pointer is the claim's share (or null).
        *self.claimed.get_mut() = false;
        (!shared.is_null()).then(|| {
            // SAFETY: the pointer came from `Share::into_raw` with this
            // index, and the cell no longer holds it.
            unsafe { Share::from_raw(shared, index) }
        })
    }
}

impl<T: Unheld, X> Drop for OnceShare<T, X> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier, Mutex};

    use super::{OnceShare, Share, Unheld};

    /// Notes which entries lost their last holder, and when it is freed.
    struct Noted {
        unheld: Arc<Mutex<Vec<u32>>>,
        freed: Arc<AtomicUsize>,
    }

    impl Unheld for Noted {
        fn unheld(&self, index: u32) {
            self.unheld.lock().unwrap().push(index);
        }
    }

    impl Drop for Noted {
        fn drop(&mut self) {
            self.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn noted() -> (Noted, Arc<Mutex<Vec<u32>>>, Arc<AtomicUsize>) {
        let unheld = Arc::new(Mutex::new(Vec::new()));
        let freed = Arc::new(AtomicUsize::new(0));
        let value = Noted {
            unheld: Arc::clone(&unheld),
            freed: Arc::clone(&freed),
        };
        (value, unheld, freed)
    }

    #[test]
    fn entries_are_counted_and_the_last_frees_the_value() {
        let (value, unheld, freed) = noted();
        let mut shares = Vec::new();
        // Entry 0 twice, entry 2 once, entry 1 never, a place past the
        // end gets nothing.
        let places = vec![('a', 0), ('b', 2), ('c', 0), ('d', 9)];
        Share::hand_out(value, 3, places, |place, share| shares.push((place, share)));
        let got: Vec<(char, u32)> = shares.iter().map(|(p, s)| (*p, s.index())).collect();
        assert_eq!(got, [('a', 0), ('b', 2), ('c', 0)]);
        let shared = shares[0].1.shared();
        assert_eq!(
            (0..3).map(|i| shared.is_held(i)).collect::<Vec<_>>(),
            [true, false, true]
        );
        drop(shares.remove(0));
        assert!(unheld.lock().unwrap().is_empty(), "entry 0 has a holder");
        drop(shares.remove(0));
        assert_eq!(*unheld.lock().unwrap(), [2]);
        assert_eq!(freed.load(Ordering::Relaxed), 0);
        drop(shares);
        assert_eq!(*unheld.lock().unwrap(), [2, 0]);
        assert_eq!(freed.load(Ordering::Relaxed), 1, "freed once, at the end");

        let (value, _, freed) = noted();
        Share::hand_out(value, 2, Vec::<((), u32)>::new(), |_, _| {
            unreachable!("no place")
        });
        assert_eq!(freed.load(Ordering::Relaxed), 1, "a value nobody holds");
    }

    #[test]
    fn holders_leaving_on_many_threads_free_the_value_once() {
        for _ in 0..50 {
            let (value, unheld, freed) = noted();
            let mut shares = Vec::new();
            let places = (0..64u32).map(|i| ((), i % 5)).collect();
            Share::hand_out(value, 5, places, |(), share| shares.push(share));
            std::thread::scope(|s| {
                for _ in 0..4 {
                    let mine: Vec<_> = shares.drain(..16).collect();
                    s.spawn(move || drop(mine));
                }
            });
            let mut unheld = unheld.lock().unwrap().clone();
            unheld.sort_unstable();
            assert_eq!(unheld, [0, 1, 2, 3, 4], "each entry once");
            assert_eq!(freed.load(Ordering::Relaxed), 1);
        }
    }

    /// Keeps shares of its own entries, dropped when entry 0 is unheld;
    /// panics on entry 2.
    struct Reentrant {
        kept: Mutex<Vec<Share<Reentrant>>>,
        unheld: Arc<Mutex<Vec<u32>>>,
        freed: Arc<AtomicUsize>,
    }

    impl Unheld for Reentrant {
        fn unheld(&self, index: u32) {
            self.unheld.lock().unwrap().push(index);
            if index == 0 {
                let kept = std::mem::take(&mut *self.kept.lock().unwrap());
                drop(kept);
            }
            assert_ne!(index, 2, "entry 2 panics");
        }
    }

    impl Drop for Reentrant {
        fn drop(&mut self) {
            self.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn sets_racing_initializers_keep_one_pointer_with_its_index() {
        for _ in 0..50 {
            let (value, unheld, freed) = noted();
            let cell: OnceShare<Noted, ()> = OnceShare::default();
            let mut shares = Vec::new();
            Share::hand_out(value, 3, vec![((), 2), ((), 2)], |(), s| shares.push(s));
            let start = Barrier::new(4);
            let alone_freed = Arc::new(AtomicUsize::new(0));
            let seen: Vec<(usize, u32)> = std::thread::scope(|s| {
                let setters = shares.into_iter().map(|share| {
                    let (cell, start) = (&cell, &start);
                    s.spawn(move || {
                        start.wait();
                        cell.set(share);
                    })
                });
                let setters: Vec<_> = setters.collect();
                let readers: Vec<_> = (0..2)
                    .map(|_| {
                        let (cell, start, alone_freed) = (&cell, &start, &alone_freed);
                        s.spawn(move || {
                            start.wait();
                            let (shared, index) = cell.get_or_init(|| Noted {
                                unheld: Arc::default(),
                                freed: Arc::clone(alone_freed),
                            });
                            (std::ptr::from_ref(shared) as usize, index)
                        })
                    })
                    .collect();
                setters.into_iter().for_each(|t| t.join().unwrap());
                readers.into_iter().map(|t| t.join().unwrap()).collect()
            });
            let kept = cell
                .get()
                .map(|(shared, index)| (std::ptr::from_ref(shared) as usize, index));
            assert!(
                seen.iter().all(|s| Some(*s) == kept),
                "one pointer, its own index"
            );
            drop(cell);
            // Whichever won, everything is freed once: the batch (its
            // entry 2 left by the refused share and the cell), and every
            // value made alone.
            assert_eq!(freed.load(Ordering::Relaxed), 1);
            assert_eq!(*unheld.lock().unwrap(), [2]);
        }
    }

    #[test]
    fn drops_inside_unheld_and_a_panic_in_it_leave_their_entries() {
        let (unheld, freed) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicUsize::new(0)),
        );
        let value = Reentrant {
            kept: Mutex::default(),
            unheld: Arc::clone(&unheld),
            freed: Arc::clone(&freed),
        };
        let mut shares = Vec::new();
        let places = vec![(0, 0), (1, 1), (2, 1), (3, 2)];
        Share::hand_out(value, 3, places, |_, share| shares.push(share));
        let last = shares.pop();
        let (kept, outside) = (shares.split_off(1), shares);
        // Entry 1's holders live inside the value itself.
        let value = outside[0].shared().value();
        value.kept.lock().unwrap().extend(kept);
        drop(outside);
        assert_eq!(*unheld.lock().unwrap(), [0, 1], "entry 1 left inside 0's");
        assert_eq!(freed.load(Ordering::Relaxed), 0, "entry 2 is held");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(last)));
        assert!(panicked.is_err());
        assert_eq!(
            freed.load(Ordering::Relaxed),
            1,
            "freed though unheld panicked"
        );
    }

    #[test]
    fn a_once_share_is_set_once_and_frees_what_it_held() {
        let (value, unheld, freed) = noted();
        let mut cell: OnceShare<Noted, ()> = OnceShare::default();
        assert!(cell.get().is_none());
        let mut shares = Vec::new();
        Share::hand_out(value, 2, vec![((), 1), ((), 1)], |(), s| shares.push(s));
        let second = shares.pop();
        cell.set(shares.remove(0));
        assert_eq!(cell.get().map(|(_, index)| index), Some(1));
        if let Some(refused) = second {
            cell.set(refused);
        }
        assert!(unheld.lock().unwrap().is_empty(), "the cell holds entry 1");
        let (other, _, other_freed) = noted();
        assert_eq!(cell.get_or_init(|| other).1, 1, "set already");
        assert_eq!(other_freed.load(Ordering::Relaxed), 1, "never used");
        drop(cell.take());
        assert_eq!(*unheld.lock().unwrap(), [1]);
        assert_eq!(freed.load(Ordering::Relaxed), 1);
        assert!(cell.get().is_none());

        let (alone, unheld, freed) = noted();
        assert_eq!(cell.get_or_init(|| alone).1, 0);
        drop(cell);
        assert_eq!(*unheld.lock().unwrap(), [0]);
        assert_eq!(freed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn racing_initializers_agree_on_one_value() {
        let cell: OnceShare<Noted, ()> = OnceShare::default();
        let start = Barrier::new(4);
        let (made, freed) = (AtomicUsize::new(0), Arc::new(AtomicUsize::new(0)));
        let seen: Vec<usize> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (cell, start, made, freed) = (&cell, &start, &made, &freed);
                    s.spawn(move || {
                        start.wait();
                        let (shared, _) = cell.get_or_init(|| {
                            made.fetch_add(1, Ordering::Relaxed);
                            Noted {
                                unheld: Arc::default(),
                                freed: Arc::clone(freed),
                            }
                        });
                        std::ptr::from_ref(shared) as usize
                    })
                })
                .collect();
            threads.into_iter().filter_map(|t| t.join().ok()).collect()
        });
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|&p| p == seen[0]));
        let made = made.load(Ordering::Relaxed);
        assert_eq!(freed.load(Ordering::Relaxed), made - 1, "all but the kept");
        drop(cell);
        assert_eq!(freed.load(Ordering::Relaxed), made, "the kept one too");
    }
}
