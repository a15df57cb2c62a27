//! A counting global allocator for the benchmark binaries.
//!
//! Each bench binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: orm_benches::alloc::CountingAlloc = orm_benches::alloc::CountingAlloc;
//! ```
//!
//! Counting is off except inside [`count_allocs`], so timed code pays one
//! relaxed load per allocation and nothing else. Only the thread that runs
//! the window is counted (r2d2 starts its worker threads in the
//! background, and they allocate); windows must not nest. Memory allocated
//! by C libraries (SQLite, libpq) goes through `malloc`, not the Rust
//! allocator, and is never counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// The system allocator, counting allocations while a [`count_allocs`]
/// window is open.
pub struct CountingAlloc;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // Const-initialized and without a destructor: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this allocation is counted: a window is open, on this thread.
fn counting() -> bool {
    ENABLED.load(Relaxed) && COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn on_alloc(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    BYTES.fetch_add(size as u64, Relaxed);
    LIVE.fetch_add(size as i64, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && counting() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() && counting() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            LIVE.fetch_sub(layout.size() as i64, Relaxed);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && counting() {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size as u64, Relaxed);
            LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        }
        new
    }
}

/// What a piece of code allocated (through the Rust allocator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes requested by those calls (a `realloc` counts its new size).
    pub bytes: u64,
    /// Net bytes still allocated when the window closed: what the result
    /// (and anything else the code kept) holds on the heap.
    pub retained: i64,
}

/// Runs `f` with counting on and returns its result with what it allocated.
/// The result is returned, not dropped, so `retained` covers it.
///
/// Only meaningful when [`CountingAlloc`] is the global allocator; windows
/// must not nest.
pub fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    ALLOCS.store(0, Relaxed);
    BYTES.store(0, Relaxed);
    LIVE.store(0, Relaxed);
    COUNTING.with(|c| c.set(true));
    ENABLED.store(true, Relaxed);
    let result = f();
    ENABLED.store(false, Relaxed);
    COUNTING.with(|c| c.set(false));
    let stats = AllocStats {
        allocs: ALLOCS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
        retained: LIVE.load(Relaxed),
    };
    (result, stats)
}
