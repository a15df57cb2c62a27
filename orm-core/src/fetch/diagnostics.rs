//! The N+1 report: a lazy fetch under `FetchMode::One` on an instance
//! that has peers, which `FetchMode::Peers` would have batched.

use std::cell::Cell;

thread_local! {
    /// The counter of the innermost `count_n_plus_one` on this thread.
    static COUNTER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Reports an N+1 fetch of `model.field`: a `tracing` warning (target
/// `orm::n_plus_one`, fields `model` and `relation`) and one more in the
/// innermost [`count_n_plus_one`] scope.
pub(crate) fn report_n_plus_one(model: &'static str, field: &'static str) {
    COUNTER.with(|c| c.set(c.get().map(|n| n + 1)));
    tracing::warn!(
        target: "orm::n_plus_one",
        model,
        relation = field,
        "N+1 query: {model}.{field} fetched for one instance that has peers; FetchMode::Peers would load it for all of them in one query"
    );
}

/// Runs `f` and counts the N+1 fetches it reported (a lazy fetch under
/// `FetchMode::One` on an instance with peers). Scopes nest: an inner
/// scope's reports count there only. A tracing subscriber sees every
/// report as a warning with target `orm::n_plus_one`.
///
/// ```
/// let ((), reports) = orm_core::fetch::count_n_plus_one(|| ());
/// assert_eq!(reports, 0);
/// ```
pub fn count_n_plus_one<R>(f: impl FnOnce() -> R) -> (R, usize) {
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            COUNTER.with(|c| c.set(self.0));
        }
    }
    let restore = Restore(COUNTER.with(|c| c.replace(Some(0))));
    let result = f();
    let count = COUNTER.with(|c| c.get()).unwrap_or(0);
    drop(restore);
    (result, count)
}
