//! Transaction levels: what became of each transaction and savepoint a
//! connection opened, so a relation cache written inside one that rolled
//! back is not trusted afterwards.
//!
//! The pool's instrumentation sees diesel's `BeginTransaction`,
//! `CommitTransaction` and `RollbackTransaction` events (whoever opened
//! the transaction: [`atomic`](super::atomic), `write_transaction`,
//! diesel's `transaction`) and keeps one [`Level`] per depth. A commit
//! counts once its statement succeeded (the `FinishQuery` event after
//! it), and a transaction PostgreSQL had aborted commits as rolled back.
//! A cache written inside a transaction records the level it was written in
//! ([`Written`]); it is valid as long as neither that level nor an
//! enclosing one rolled back. Outside a transaction nothing is recorded:
//! the check is an empty-vector test.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A callback registered with [`on_commit`](super::on_commit).
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

const OPEN: u8 = 0;
/// A savepoint released into its parent: its fate is the parent's.
const RELEASED: u8 = 1;
const COMMITTED: u8 = 2;
const ROLLED_BACK: u8 = 3;
/// Open when the pool's instrumentation was dropped: the connection
/// closed, or its instrumentation was replaced (`set_instrumentation`), so
/// what became of it is not seen (a PostgreSQL `COMMIT` of an aborted
/// transaction succeeds and rolls back): not trusted, and its callbacks
/// do not run.
const ABANDONED: u8 = 4;

/// One transaction or savepoint of a connection.
pub(crate) struct Level {
    state: AtomicU8,
    parent: Option<Arc<Level>>,
    /// Begun by `atomic` (or `write_transaction`), which runs the
    /// callbacks after the outermost commit.
    managed: AtomicBool,
    /// The server aborted it: a statement failed in it on PostgreSQL, or
    /// a deadlock rolled the transaction back on MySQL.
    failed: AtomicBool,
    /// The `on_commit` callbacks registered in it (and in the savepoints
    /// released into it), in order.
    callbacks: Mutex<Vec<Callback>>,
}

impl Level {
    fn new(parent: Option<Arc<Level>>) -> Arc<Level> {
        Arc::new(Level {
            state: AtomicU8::new(OPEN),
            parent,
            managed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            callbacks: Mutex::new(Vec::new()),
        })
    }

    /// A level that already rolled back: what a cache written on a
    /// connection whose transaction state is unknown records.
    pub(crate) fn rolled_back() -> Arc<Level> {
        let level = Level::new(None);
        level.state.store(ROLLED_BACK, Ordering::Release);
        level
    }

    /// The levels from this one out to the outermost transaction.
    fn chain(&self) -> impl Iterator<Item = &Level> {
        std::iter::successors(Some(self), |l| l.parent.as_deref())
    }

    /// Neither this level nor an enclosing one rolled back.
    fn alive(&self) -> bool {
        self.chain().all(|l| {
            let state = l.state.load(Ordering::Acquire);
            state != ROLLED_BACK && state != ABANDONED
        })
    }

    /// Committed for good: released savepoints up to a committed
    /// transaction.
    fn settled(&self) -> bool {
        self.chain().all(|l| {
            let state = l.state.load(Ordering::Acquire);
            state == RELEASED || (state == COMMITTED && l.parent.is_none())
        })
    }

    /// Whether `outer` is this level or encloses it.
    fn within(&self, outer: &Level) -> bool {
        self.chain().any(|l| std::ptr::eq(l, outer))
    }

    /// The outermost transaction.
    pub(crate) fn root(&self) -> &Level {
        self.chain().last().unwrap_or(self)
    }

    pub(crate) fn set_managed(&self) {
        self.managed.store(true, Ordering::Release);
    }

    pub(crate) fn is_managed(&self) -> bool {
        self.managed.load(Ordering::Acquire)
    }

    /// `COMMIT` failed: the level rolled back, whether or not a rollback
    /// event said so (PostgreSQL may end the transaction on its own).
    pub(crate) fn commit_failed(&self) {
        self.state.store(ROLLED_BACK, Ordering::Release);
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Whether the server aborted this level (see
    /// [`Levels::statement_failed`], [`Levels::transaction_aborted`]).
    pub(crate) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    pub(crate) fn push_callback(&self, callback: Callback) {
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(callback);
    }

    /// Takes the callbacks, if the level committed (they are dropped
    /// otherwise).
    pub(crate) fn take_callbacks(&self) -> Vec<Callback> {
        let callbacks = std::mem::take(
            &mut *self
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if self.state.load(Ordering::Acquire) == COMMITTED {
            callbacks
        } else {
            Vec::new()
        }
    }
}

/// The levels a cache was written in: none outside a transaction.
///
/// Usually one level; two or more when one cache was written in
/// transactions of different connections.
#[derive(Clone, Default)]
pub struct Written(Vec<Arc<Level>>);

impl Written {
    pub(crate) fn at(level: Arc<Level>) -> Written {
        Written(vec![level])
    }

    /// Whether the cache may be trusted: no level it was written in
    /// rolled back.
    #[inline]
    pub(crate) fn is_valid(&self) -> bool {
        self.0.iter().all(|l| l.alive())
    }

    /// Whether nothing is recorded (written outside transactions, or in
    /// transactions committed since).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the levels of a later write, dropping the levels that are
    /// settled or that the later ones are within.
    pub(crate) fn merge(&mut self, later: &Written) {
        if later.0.is_empty() && self.0.is_empty() {
            return;
        }
        self.0
            .retain(|l| !l.settled() && !later.0.iter().any(|n| n.within(l)));
        for level in &later.0 {
            if !self.0.iter().any(|l| Arc::ptr_eq(l, level)) {
                self.0.push(Arc::clone(level));
            }
        }
    }

    /// Forgets the levels committed for good.
    pub(crate) fn prune(&mut self) {
        self.0.retain(|l| !l.settled());
    }
}

/// A connection's levels, by depth (index 0: the transaction), the
/// current depth, and a `COMMIT` or `RELEASE SAVEPOINT` sent but not yet
/// answered.
#[derive(Default)]
pub(crate) struct Levels {
    levels: Vec<Arc<Level>>,
    depth: usize,
    committing: Option<usize>,
}

impl Levels {
    /// `BEGIN` or `SAVEPOINT` at `depth` (1 for the transaction).
    pub(crate) fn begin(&mut self, depth: usize) {
        self.settle_commit(false);
        self.levels.truncate(depth.saturating_sub(1));
        let parent = self.levels.last().cloned();
        self.levels.push(Level::new(parent));
        self.depth = depth;
    }

    /// A statement failed and the server aborted the innermost open
    /// level (PostgreSQL): marks it.
    pub(crate) fn statement_failed(&mut self) {
        if let Some(level) = self.open(self.depth) {
            level.failed.store(true, Ordering::Release);
        }
    }

    /// The server rolled the whole transaction back (a deadlock on
    /// MySQL): marks every open level, so none of them commits as if it
    /// had not.
    pub(crate) fn transaction_aborted(&mut self) {
        for level in self.levels.iter().take(self.depth) {
            level.failed.store(true, Ordering::Release);
        }
    }

    /// `COMMIT` (depth 1) or `RELEASE SAVEPOINT` is about to be sent: it
    /// counts once the statement succeeded ([`Levels::statement_finished`]).
    pub(crate) fn commit_begun(&mut self, depth: usize) {
        self.settle_commit(false);
        self.committing = Some(depth);
    }

    /// A statement finished: settles the commit sent, if any.
    pub(crate) fn statement_finished(&mut self, succeeded: bool) {
        self.settle_commit(succeeded);
    }

    fn settle_commit(&mut self, succeeded: bool) {
        match self.committing.take() {
            Some(depth) if succeeded => self.commit(depth),
            // A failed `COMMIT` ended the transaction (diesel then treats
            // it as closed; PostgreSQL rolled it back). A failed `RELEASE
            // SAVEPOINT` leaves the savepoint open.
            Some(1) => self.rollback(1),
            _ => {}
        }
    }

    /// A committed `COMMIT` or `RELEASE SAVEPOINT`: a released
    /// savepoint's callbacks move to its parent. A transaction the server
    /// had aborted (PostgreSQL answers its `COMMIT` with a rollback)
    /// counts as rolled back. The level stays in place until the next
    /// `begin` at its depth.
    fn commit(&mut self, depth: usize) {
        let Some(level) = self.open(depth).cloned() else {
            self.depth = depth.saturating_sub(1);
            return;
        };
        match &level.parent {
            None if level.has_failed() => return self.rollback(depth),
            None => level.state.store(COMMITTED, Ordering::Release),
            Some(parent) => {
                level.state.store(RELEASED, Ordering::Release);
                let moved = std::mem::take(
                    &mut *level
                        .callbacks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                parent
                    .callbacks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(moved);
            }
        }
        self.depth = depth.saturating_sub(1);
    }

    /// `ROLLBACK` or `ROLLBACK TO SAVEPOINT` at `depth`: the level and
    /// everything written in it is gone, its callbacks dropped.
    pub(crate) fn rollback(&mut self, depth: usize) {
        self.committing = None;
        self.depth = depth.saturating_sub(1);
        if let Some(level) = self.open(depth) {
            level.state.store(ROLLED_BACK, Ordering::Release);
            level
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// The level at `depth` (1 for the transaction), by reference.
    fn open(&self, depth: usize) -> Option<&Arc<Level>> {
        depth.checked_sub(1).and_then(|i| self.levels.get(i))
    }

    /// The connection closed (an open transaction never committed), or
    /// its instrumentation was replaced (what becomes of it is not seen).
    pub(crate) fn abandon(&mut self) {
        self.depth = 0;
        self.committing = None;
        let waiting: usize = self
            .levels
            .iter()
            .map(|l| {
                l.callbacks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len()
            })
            .sum();
        if waiting > 0 {
            tracing::warn!(
                target: "orm::transaction",
                dropped = waiting,
                "on_commit callbacks will not run: the connection closed, or its instrumentation was replaced, inside a transaction, so whether it commits is not seen; give instrumentation to DbBuilder::instrumentation instead"
            );
        }
        for level in self.levels.drain(..) {
            let _ =
                level
                    .state
                    .compare_exchange(OPEN, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// The level at `depth` (1 for the transaction), if the events were
    /// seen.
    pub(crate) fn at(&self, depth: usize) -> Option<Arc<Level>> {
        self.open(depth).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolled_back_savepoint_invalidates_what_was_written_in_it() {
        let mut levels = Levels::default();
        levels.begin(1);
        levels.begin(2);
        let inner = Written::at(levels.at(2).expect("level 2"));
        let outer = Written::at(levels.at(1).expect("level 1"));
        levels.rollback(2);
        assert!(!inner.is_valid());
        assert!(outer.is_valid());
        levels.commit(1);
        assert!(outer.is_valid());
        assert!(!inner.is_valid());
    }

    #[test]
    fn a_released_savepoint_follows_its_parent() {
        let mut levels = Levels::default();
        levels.begin(1);
        levels.begin(2);
        let inner = Written::at(levels.at(2).expect("level 2"));
        levels.commit(2);
        assert!(inner.is_valid());
        levels.rollback(1);
        assert!(!inner.is_valid());
    }

    #[test]
    fn merging_keeps_what_is_still_pending_and_prunes_what_settled() {
        let mut levels = Levels::default();
        levels.begin(1);
        let mut written = Written::at(levels.at(1).expect("level 1"));
        levels.commit(1);
        written.prune();
        assert!(written.is_empty());
        levels.begin(1);
        levels.begin(2);
        written.merge(&Written::at(levels.at(1).expect("level 1")));
        written.merge(&Written::at(levels.at(2).expect("level 2")));
        // Level 2 is within level 1: one level is enough.
        assert_eq!(written.0.len(), 1);
        levels.rollback(2);
        assert!(!written.is_valid());
    }

    #[test]
    fn callbacks_move_to_the_parent_on_release_and_are_dropped_on_rollback() {
        let mut levels = Levels::default();
        levels.begin(1);
        levels.begin(2);
        levels
            .at(2)
            .expect("level 2")
            .push_callback(Box::new(|| {}));
        levels.commit(2);
        levels.begin(2);
        levels
            .at(2)
            .expect("level 2")
            .push_callback(Box::new(|| {}));
        levels.rollback(2);
        let root = levels.at(1).expect("level 1");
        levels.commit(1);
        assert_eq!(root.take_callbacks().len(), 1);
    }
}
