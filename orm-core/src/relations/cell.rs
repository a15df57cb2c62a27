//! The cell of a to-one relation: the loaded target, in the instance or
//! in its query's peer batch; a target loaded inside a transaction records
//! the transaction levels, and after a rollback of one the cell hands over
//! to a fresh one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::backend::levels::Written;
use crate::fetch::{OnceArc, Release};

/// What a to-one cell holds once resolved.
pub(crate) enum Resolved<T, K> {
    Found(Arc<T>),
    /// The key points at no row: the same error every time.
    Missing,
    /// `Found` or `Missing`, loaded (or the owner saved) inside a
    /// transaction: trusted while none of its levels rolled back. Outside
    /// transactions values are never wrapped, so the cached read's fast
    /// path (`Found`) stays one check.
    InTransaction(Box<TxValue<T, K>>),
}

impl<T, K> Resolved<T, K> {
    /// `target` found, or missing.
    pub(crate) fn of(target: Option<Arc<T>>) -> Self {
        target.map_or(Resolved::Missing, Resolved::Found)
    }

    /// The value itself (`Found` or `Missing`), unwrapped.
    fn plain(&self) -> &Self {
        match self {
            Resolved::InTransaction(tx) => &tx.value,
            plain => plain,
        }
    }

    /// A copy of a plain value (`Found` shares its target).
    fn copy(&self) -> Self {
        match self.plain() {
            Resolved::Found(t) => Resolved::Found(Arc::clone(t)),
            _ => Resolved::Missing,
        }
    }

    /// `self` (plain) tied to the transaction levels `written`, if any.
    fn within(self, written: &Written) -> Self {
        if written.is_empty() {
            return self;
        }
        Resolved::InTransaction(Box::new(TxValue {
            value: self,
            pending: AtomicBool::new(true),
            written: Mutex::new(written.clone()),
            reloaded: OnceLock::new(),
        }))
    }
}

/// A value loaded inside a transaction.
pub(crate) struct TxValue<T, K> {
    value: Resolved<T, K>,
    /// `written` holds levels not settled yet.
    pending: AtomicBool,
    written: Mutex<Written>,
    /// The cell that replaced this one after a rollback of a level the
    /// value was written in.
    reloaded: OnceLock<Box<ToOneCell<T, K>>>,
}

impl<T, K> TxValue<T, K> {
    /// No level the value was written in rolled back.
    fn trusted(&self) -> bool {
        if !self.pending.load(Ordering::Acquire) {
            return true;
        }
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        written.prune();
        if written.is_empty() {
            self.pending.store(false, Ordering::Release);
        }
        written.is_valid()
    }

    fn merge(&self, later: &Written) {
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(later);
        self.pending.store(true, Ordering::Release);
    }
}

/// The loaded target of one instance's to-one relation (the key is the
/// field's, or the peer batch entry's).
pub(crate) struct ToOneCell<T, K> {
    value: OnceLock<Resolved<T, K>>,
    /// The target, once `value` is set to a plain `Found`: what the
    /// cached read's fast path reads (one load, not `value`'s state, tag
    /// and pointer). Unset for any other value; set just after `value`,
    /// so a read in between takes `value`'s path.
    found: OnceArc<T>,
}

impl<T, K> Default for ToOneCell<T, K> {
    fn default() -> Self {
        ToOneCell {
            value: OnceLock::new(),
            found: OnceArc::default(),
        }
    }
}

/// A target stays loaded until its batch is freed, even when no instance
/// holds it any more.
impl<T, K> Release for ToOneCell<T, K> {}

impl<T, K> ToOneCell<T, K> {
    /// A cell with `value` loaded already.
    pub(crate) fn with(value: Resolved<T, K>) -> Self {
        let cell = ToOneCell::default();
        cell.fill(value, &Written::default());
        cell
    }

    /// The found target, if loaded outside any transaction: the cached
    /// read's fast path.
    #[inline]
    pub(crate) fn found(&self) -> Option<&T> {
        self.found.get()
    }

    /// The loaded value (`Found` or `Missing`), or `None`. Only call it on
    /// the [`current`](Self::current) cell.
    pub(crate) fn get(&self) -> Option<&Resolved<T, K>> {
        self.value.get().map(Resolved::plain)
    }

    /// Whether nothing is loaded yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.value.get().is_none()
    }

    /// Loads `value`, read in the transaction levels `written` (none: as
    /// it is); a value already loaded stays.
    pub(crate) fn fill(&self, value: Resolved<T, K>, written: &Written) {
        if self.value.set(value.within(written)).is_ok() {
            if let Some(Resolved::Found(t)) = self.value.get() {
                let _ = self.found.set(Arc::clone(t));
            }
        }
    }

    /// This cell, or the one that replaced it after a rollback (nothing
    /// loaded yet).
    pub(crate) fn current(&self) -> &Self {
        let mut cell = self;
        while let Some(Resolved::InTransaction(tx)) = cell.value.get() {
            if tx.trusted() {
                break;
            }
            cell = tx.reloaded.get_or_init(Box::default);
        }
        cell
    }

    /// A cell of its own holding what the current cell holds (a clone of
    /// the instance), tied to the same transaction levels.
    pub(crate) fn duplicate(&self) -> Self {
        let cell = self.current();
        match cell.value.get() {
            None => ToOneCell::default(),
            Some(Resolved::InTransaction(tx)) => {
                let written = tx.written.lock().unwrap_or_else(PoisonError::into_inner);
                ToOneCell::with(tx.value.copy().within(&written))
            }
            Some(plain) => ToOneCell::with(plain.copy()),
        }
    }

    /// The owner was saved in the levels `written`: the loaded value is
    /// tied to them too. Returns the cell to use instead, when this one's
    /// value was not tied to a transaction yet.
    pub(crate) fn written_in(&self, written: &Written) -> Option<Self> {
        if written.is_empty() {
            return None;
        }
        match self.value.get()? {
            Resolved::InTransaction(tx) => {
                tx.merge(written);
                None
            }
            plain => Some(ToOneCell::with(plain.copy().within(written))),
        }
    }
}
