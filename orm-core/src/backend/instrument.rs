//! The instrumentation every pooled connection carries: it forwards
//! diesel's events to the instrumentation the app configured
//! ([`DbBuilder::instrumentation`](super::DbBuilder::instrumentation)) and
//! to the query captures active on the connection, so a capture never
//! replaces what the app installed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::Connection;

use super::AnyConnection;

/// Where a capture records the statements: their SQL, in order.
pub(crate) type Statements = Arc<Mutex<Vec<String>>>;

/// The captures active on one connection (innermost last).
type Captures = Mutex<Vec<Statements>>;

/// Makes an app's instrumentation for each new connection.
pub(crate) type InstrumentationFactory = Arc<dyn Fn() -> Box<dyn Instrumentation> + Send + Sync>;

/// The connections' captures, by the address of their instrumentation:
/// how `capture_queries` finds them from a `&mut AnyConnection` (diesel
/// hands out the instrumentation only as `&mut dyn Instrumentation`).
fn registry() -> &'static Mutex<HashMap<usize, Weak<Captures>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Weak<Captures>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn address(instrumentation: &mut dyn Instrumentation) -> usize {
    (instrumentation as *mut dyn Instrumentation).cast::<()>() as usize
}

struct PoolInstrumentation {
    app: Option<Box<dyn Instrumentation>>,
    captures: Arc<Captures>,
}

impl Instrumentation for PoolInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = &event {
            let captures = self.captures.lock().unwrap_or_else(PoisonError::into_inner);
            if !captures.is_empty() {
                // Every active capture records (nested ones each see theirs).
                let sql = query.to_string();
                for capture in captures.iter() {
                    capture
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(sql.clone());
                }
            }
        }
        if let Some(app) = &mut self.app {
            app.on_connection_event(event);
        }
    }
}

impl Drop for PoolInstrumentation {
    fn drop(&mut self) {
        let address = (self as *mut Self).cast::<()>() as usize;
        let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
        if registry
            .get(&address)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.captures)))
        {
            registry.remove(&address);
        }
    }
}

/// Installs the pool's instrumentation on a new connection.
pub(crate) fn install(conn: &mut AnyConnection, app: Option<&InstrumentationFactory>) {
    let captures = Arc::new(Captures::default());
    conn.set_instrumentation(PoolInstrumentation {
        app: app.map(|make| make()),
        captures: Arc::clone(&captures),
    });
    let address = address(conn.instrumentation());
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address, Arc::downgrade(&captures));
}

/// An active capture; dropping it stops recording.
pub(crate) struct Capture(Arc<Captures>);

impl Drop for Capture {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
    }
}

/// Records `conn`'s statements into `log` until the returned guard drops,
/// keeping the connection's own instrumentation; `None` for a connection
/// the pool did not open (or whose instrumentation was replaced).
pub(crate) fn capture(conn: &mut AnyConnection, log: Statements) -> Option<Capture> {
    let address = address(conn.instrumentation());
    let captures = registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&address)
        .and_then(Weak::upgrade)?;
    captures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(log);
    Some(Capture(captures))
}
