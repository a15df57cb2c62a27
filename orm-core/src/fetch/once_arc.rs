//! [`OnceArc`]: a shared pointer set at most once, in one word.
//!
//! What a loaded to-one cell keeps its target in for the cached read: one
//! load, where a `OnceLock<Arc<T>>` reads the `Once` state beside the
//! pointer and its set runs `Once`'s protocol, about a hundred
//! instructions and two atomic read-modify-writes (issue 10). Here the
//! pointer is the state: null until set, set with one compare-exchange.
//!
//! Unsafe code lives here and in `shares`; each block says why it holds.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

/// An `Arc<T>` set at most once through a shared reference (or replaced
/// through a unique one). Holds one reference count while set.
pub(crate) struct OnceArc<T> {
    /// Null, or a pointer from `Arc::into_raw` whose count this cell owns.
    ptr: AtomicPtr<T>,
    /// Sends and shares like the `Arc<T>` it holds (`AtomicPtr` alone
    /// would be `Send + Sync` for any `T`), and drops one.
    _holds: PhantomData<Arc<T>>,
}

impl<T> Default for OnceArc<T> {
    fn default() -> Self {
        OnceArc {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _holds: PhantomData,
        }
    }
}

impl<T> From<Arc<T>> for OnceArc<T> {
    fn from(value: Arc<T>) -> Self {
        OnceArc {
            ptr: AtomicPtr::new(Arc::into_raw(value).cast_mut()),
            _holds: PhantomData,
        }
    }
}

impl<T> OnceArc<T> {
    /// The value, if set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Arc::into_raw` (`from`,
        // `set`; the acquire load sees the value it points
        // to), and the cell owns that count until it is dropped or taken,
        // both of which need `&mut self`: the `T` outlives this borrow.
        unsafe { ptr.as_ref() }
    }

    /// Sets the value unless one is set; gives `value` back if one was.
    pub(crate) fn set(&self, value: Arc<T>) -> Result<(), Arc<T>> {
        let new = Arc::into_raw(value).cast_mut();
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            // SAFETY: `new` came from `Arc::into_raw` above and was not
            // stored: its count is still ours to take back.
            Err(_) => Err(unsafe { Arc::from_raw(new) }),
        }
    }

    /// Takes the value out, leaving the cell unset.
    pub(crate) fn take(&mut self) -> Option<Arc<T>> {
        let ptr = std::mem::replace(self.ptr.get_mut(), ptr::null_mut());
        // SAFETY: a non-null pointer came from `Arc::into_raw` and the
        // cell owned its count, which moves to the returned `Arc`; the
        // cell no longer holds the pointer.
        (!ptr.is_null()).then(|| unsafe { Arc::from_raw(ptr) })
    }
}

impl<T> Drop for OnceArc<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::OnceArc;

    #[test]
    fn set_once_and_counts_kept_exactly() {
        let value = Arc::new(7);
        let cell = OnceArc::default();
        assert!(cell.get().is_none());
        assert!(cell.set(Arc::clone(&value)).is_ok());
        assert_eq!(cell.get(), Some(&7));
        let refused = cell.set(Arc::new(8)).map_err(|v| *v);
        assert_eq!(refused, Err(8), "a set cell keeps its value");
        assert_eq!(Arc::strong_count(&value), 2);
        drop(cell);
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "dropping the cell drops its count"
        );

        let mut cell = OnceArc::from(Arc::clone(&value));
        let taken = cell.take();
        assert!(cell.get().is_none() && cell.take().is_none());
        assert!(taken.is_some_and(|t| Arc::ptr_eq(&t, &value)));
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
