//! Peer groups: the instances one query loaded, held weakly, so touching a
//! relation on one of them can load it for all.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

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
