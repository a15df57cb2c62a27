//! Fetch modes and peer batches.
//!
//! Instances loaded by one query are *peers*. Under [`FetchMode::Peers`]
//! (the default), touching a to-one relation that is not loaded yet on one
//! instance loads it, in one query, for every live peer whose value is not
//! loaded yet. Peers are held weakly: dropped instances are not fetched for,
//! and a batch whose instances are all dropped is freed.
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

mod diagnostics;
mod mode;
#[allow(unsafe_code)]
mod once_arc;
mod peers;
#[allow(unsafe_code)]
mod shares;

pub use crate::meta::FetchMode;
pub use diagnostics::count_n_plus_one;
pub(crate) use diagnostics::report_n_plus_one;
pub use mode::{current_fetch_mode, set_global_fetch_mode, with_fetch_mode, FetchScope};
pub(crate) use mode::{resolve, ModeCell};
pub(crate) use once_arc::OnceArc;
pub(crate) use peers::{Batch, Link, Linked, Release};
