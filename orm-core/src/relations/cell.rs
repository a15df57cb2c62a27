//! The cell of a to-one relation: its key and the loaded target, shared
//! with the instance's peers; a target loaded inside a transaction records
//! the transaction levels, and after a rollback of one the cell hands over
//! to a fresh one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::backend::levels::Written;
use crate::fetch::PeerGroup;

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
    reloaded: OnceLock<Arc<ToOneCell<T, K>>>,
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

/// The shared state of one instance's to-one relation: its key and the
/// loaded target. Shared (`Arc`) so a peer batch can fill it.
pub(crate) struct ToOneCell<T, K> {
    pub(crate) key: Option<K>,
    value: OnceLock<Resolved<T, K>>,
    /// The instances loaded with this one (set once, when the query loads).
    pub(crate) peers: OnceLock<Arc<PeerGroup<ToOneCell<T, K>>>>,
}

impl<T, K: Clone> ToOneCell<T, K> {
    pub(crate) fn new(key: Option<K>) -> Arc<Self> {
        Arc::new(ToOneCell {
            key,
            value: OnceLock::new(),
            peers: OnceLock::new(),
        })
    }

    /// A cell pointing at `key` with `value` loaded already.
    pub(crate) fn with(key: Option<K>, value: Resolved<T, K>) -> Arc<Self> {
        let cell = ToOneCell::new(key);
        let _ = cell.value.set(value);
        cell
    }

    /// The found target, if loaded outside any transaction: the cached
    /// read's fast path.
    #[inline]
    pub(crate) fn found(&self) -> Option<&Arc<T>> {
        match self.value.get() {
            Some(Resolved::Found(t)) => Some(t),
            _ => None,
        }
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

    /// Loads `value` (plain), read in the transaction levels `written`;
    /// a value already loaded stays.
    pub(crate) fn fill(&self, value: Resolved<T, K>, written: &Written) {
        let _ = self.value.set(value.within(written));
    }

    /// This cell, or the one that replaced it after a rollback (with the
    /// same key, nothing loaded yet).
    pub(crate) fn current(self: &Arc<Self>) -> &Arc<Self> {
        let mut cell = self;
        while let Some(Resolved::InTransaction(tx)) = cell.value.get() {
            if tx.trusted() {
                break;
            }
            cell = tx.reloaded.get_or_init(|| ToOneCell::new(cell.key.clone()));
        }
        cell
    }

    /// The owner was saved in the levels `written`: the loaded value is
    /// tied to them too. Returns the cell to use instead, when this one's
    /// value was not tied to a transaction yet.
    pub(crate) fn written_in(self: &Arc<Self>, written: &Written) -> Option<Arc<Self>> {
        if written.is_empty() {
            return None;
        }
        match self.value.get()? {
            Resolved::InTransaction(tx) => {
                tx.merge(written);
                None
            }
            plain => Some(ToOneCell::with(
                self.key.clone(),
                plain.copy().within(written),
            )),
        }
    }
}
