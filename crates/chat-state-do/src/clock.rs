use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chat_state::Clock;

/// The object's clock: the runtime's `Date.now()`, plus an offset that only
/// test hooks ever move.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerClock {
    offset: Arc<AtomicI64>,
}

impl WorkerClock {
    pub(crate) fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, ms: i64) {
        self.offset.fetch_add(ms, Ordering::Relaxed);
    }

    /// Real (runtime) time for an engine time, for scheduling alarms.
    pub(crate) fn to_real(&self, engine_ms: i64) -> i64 {
        engine_ms.saturating_sub(self.offset())
    }
}

impl Clock for WorkerClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64 + self.offset()
    }
}
