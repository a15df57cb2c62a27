//! Fetch modes and peer groups.
//!
//! Instances loaded by one query are *peers*. Under [`FetchMode::Peers`]
//! (the default), touching a to-one relation that is not loaded yet on one
//! instance loads it, in one query, for every live peer whose value is not
//! loaded yet. Peers are held weakly: dropped instances are not fetched for,
//! and a group whose instances are all dropped is freed.
//!
//! [`FetchMode::One`] loads for the touched instance only (lazy loading);
//! [`FetchMode::Raise`] returns [`OrmError::FetchBlocked`](crate::OrmError::FetchBlocked).
//! Values already loaded (assigned, prefetched or fetched before) never
//! consult the mode.
//!
//! Precedence, first set wins:
//!
//! 1. the innermost [`with_fetch_mode`] scope on this thread (an explicit
//!    override for a request, a job, a test);
//! 2. the instance's mode: set with `Model::set_fetch_mode`, or taken from
//!    the queryset that loaded it (`QuerySet::fetch_mode`), or inherited
//!    from the instance it was loaded through (a relation, a path, a manager);
//! 3. the field's `#[orm(fetch_mode = "...")]`;
//! 4. the model's `#[orm(fetch_mode = "...")]`;
//! 5. the global mode ([`set_global_fetch_mode`], default `Peers`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

/// How a relation that is not loaded yet is fetched.
///
/// ```
/// use orm_core::peers::{with_fetch_mode, current_fetch_mode, FetchMode};
/// assert_eq!(current_fetch_mode(), FetchMode::Peers);
/// with_fetch_mode(FetchMode::Raise, || assert_eq!(current_fetch_mode(), FetchMode::Raise));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchMode {
    /// Fetch for this instance only (one query per instance).
    One,
    /// Fetch for every live peer in one query (the default).
    Peers,
    /// Refuse: `Fetching of Model.field blocked.`
    Raise,
}

impl FetchMode {
    fn to_u8(self) -> u8 {
        match self {
            FetchMode::One => 1,
            FetchMode::Peers => 2,
            FetchMode::Raise => 3,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(FetchMode::One),
            2 => Some(FetchMode::Peers),
            3 => Some(FetchMode::Raise),
            _ => None,
        }
    }
}

static GLOBAL: AtomicU8 = AtomicU8::new(2);

thread_local! {
    static SCOPED: Cell<u8> = const { Cell::new(0) };
}

/// Sets the process-wide fetch mode (default [`FetchMode::Peers`]).
///
/// ```
/// use orm_core::peers::{set_global_fetch_mode, FetchMode};
/// set_global_fetch_mode(FetchMode::Peers);
/// ```
pub fn set_global_fetch_mode(mode: FetchMode) {
    GLOBAL.store(mode.to_u8(), Ordering::Relaxed);
}

/// Runs `f` with `mode` in force on this thread (a request, a job...).
/// Scopes nest; the innermost wins.
///
/// ```
/// use orm_core::peers::{with_fetch_mode, current_fetch_mode, FetchMode};
/// let seen = with_fetch_mode(FetchMode::One, current_fetch_mode);
/// assert_eq!(seen, FetchMode::One);
/// ```
pub fn with_fetch_mode<R>(mode: FetchMode, f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPED.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCOPED.with(|s| s.replace(mode.to_u8())));
    f()
}

/// The mode in force on this thread for an access with no instance, field
/// or model setting: the innermost scope, else the global mode.
pub fn current_fetch_mode() -> FetchMode {
    resolve(None, None)
}

/// Applies the precedence rules: scope, then `instance`, then `declared`
/// (field, else model), then the global mode.
pub(crate) fn resolve(instance: Option<FetchMode>, declared: Option<FetchMode>) -> FetchMode {
    FetchMode::from_u8(SCOPED.with(Cell::get))
        .or(instance)
        .or(declared)
        .or_else(|| FetchMode::from_u8(GLOBAL.load(Ordering::Relaxed)))
        .unwrap_or(FetchMode::Peers)
}

/// An optional mode stored in an instance's relation fields.
#[derive(Default, Debug)]
pub(crate) struct ModeCell(AtomicU8);

impl ModeCell {
    pub(crate) fn get(&self) -> Option<FetchMode> {
        FetchMode::from_u8(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, mode: Option<FetchMode>) {
        self.0
            .store(mode.map_or(0, FetchMode::to_u8), Ordering::Relaxed);
    }
}

/// The members of one peer group for one relation: weak references to the
/// relation cells of instances loaded together. The mutex also serializes
/// batches, so two threads touching the same group run the batch once.
pub(crate) struct PeerGroup<C> {
    members: Mutex<Vec<Weak<C>>>,
}

impl<C> PeerGroup<C> {
    /// Makes `members` (instances loaded together) one group: `slot` gives
    /// each member's place for it. Fewer than two members make no group.
    pub(crate) fn link(members: &[&Arc<C>], slot: impl Fn(&C) -> &OnceLock<Arc<PeerGroup<C>>>) {
        if members.len() < 2 {
            return;
        }
        let group = Arc::new(PeerGroup {
            members: Mutex::new(members.iter().map(|m| Arc::downgrade(m)).collect()),
        });
        for member in members {
            let _ = slot(member).set(Arc::clone(&group));
        }
    }

    /// Runs `batch` with the group locked, on the live members; dead
    /// members are dropped from the group.
    pub(crate) fn with_live<R>(&self, batch: impl FnOnce(&[Arc<C>]) -> R) -> R {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let live: Vec<Arc<C>> = members.iter().filter_map(Weak::upgrade).collect();
        if live.len() < members.len() {
            // Dead members keep their cell's allocation alive through the
            // `Weak`: drop them, and the spare capacity with them.
            members.retain(|w| w.strong_count() > 0);
            if members.len() < members.capacity() / 2 {
                members.shrink_to_fit();
            }
        }
        batch(&live)
    }
}
