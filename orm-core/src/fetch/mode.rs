//! Where a fetch mode comes from: scopes, instances, declarations, the
//! global default, and the precedence between them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::meta::FetchMode;

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
/// use orm_core::fetch::{set_global_fetch_mode, FetchMode};
/// set_global_fetch_mode(FetchMode::Peers);
/// ```
pub fn set_global_fetch_mode(mode: FetchMode) {
    GLOBAL.store(mode.to_u8(), Ordering::Relaxed);
}

/// Runs `f` with `mode` in force on this thread (a request, a job...).
/// Scopes nest; the innermost wins.
///
/// ```
/// use orm_core::fetch::{with_fetch_mode, current_fetch_mode, FetchMode};
/// let seen = with_fetch_mode(FetchMode::One, current_fetch_mode);
/// assert_eq!(seen, FetchMode::One);
/// ```
pub fn with_fetch_mode<R>(mode: FetchMode, f: impl FnOnce() -> R) -> R {
    FetchScope(Some(mode)).enter(f)
}

/// The scoped fetch mode in force, as a value: capture it where work
/// starts and [`enter`](Self::enter) it wherever that work continues (an
/// async task resumed on another thread, a worker a job was handed to).
/// The scope is a plain `Copy` value; the thread only holds the one
/// entered last.
///
/// ```
/// use orm_core::fetch::{current_fetch_mode, with_fetch_mode, FetchMode, FetchScope};
/// let scope = with_fetch_mode(FetchMode::One, FetchScope::current);
/// let seen = std::thread::spawn(move || scope.enter(current_fetch_mode)).join().unwrap();
/// assert_eq!(seen, FetchMode::One);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchScope(Option<FetchMode>);

impl FetchScope {
    /// The scope in force on this thread (none outside `with_fetch_mode`).
    pub fn current() -> Self {
        FetchScope(FetchMode::from_u8(SCOPED.with(Cell::get)))
    }

    /// The scoped mode, if any.
    pub fn mode(self) -> Option<FetchMode> {
        self.0
    }

    /// Runs `f` with this scope in force on the current thread, restoring
    /// the previous one afterwards (also when `f` panics).
    pub fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(u8);
        impl Drop for Restore {
            fn drop(&mut self) {
                SCOPED.with(|s| s.set(self.0));
            }
        }
        let value = self.0.map_or(0, FetchMode::to_u8);
        let _restore = Restore(SCOPED.with(|s| s.replace(value)));
        f()
    }
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
