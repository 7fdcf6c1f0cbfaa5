use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use chat_state::Clock;

/// The object's clock: the runtime's `Date.now()`.
///
/// Test hooks can freeze it and then move it by hand, so that expiry tests
/// run without sleeping; a frozen clock never moves on its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerClock {
    frozen: Arc<AtomicBool>,
    frozen_at: Arc<AtomicI64>,
}

fn real_now() -> i64 {
    js_sys::Date::now() as i64
}

impl WorkerClock {
    /// Stops the clock at its current reading, if it is not stopped yet.
    pub(crate) fn freeze(&self) {
        if !self.frozen.load(Ordering::Relaxed) {
            self.frozen_at.store(real_now(), Ordering::Relaxed);
            self.frozen.store(true, Ordering::Relaxed);
        }
    }

    /// Moves a frozen clock forward by `ms` (freezing it first).
    pub(crate) fn advance(&self, ms: i64) {
        self.freeze();
        self.frozen_at.fetch_add(ms, Ordering::Relaxed);
    }

    /// The runtime time at which the engine's clock reads `engine_ms`, for
    /// scheduling alarms.
    pub(crate) fn to_real(&self, engine_ms: i64) -> i64 {
        engine_ms.saturating_sub(self.now_ms() - real_now())
    }

    /// The engine time for a runtime time.
    pub(crate) fn engine_time(&self, real_ms: i64) -> i64 {
        real_ms.saturating_add(self.now_ms() - real_now())
    }
}

impl Clock for WorkerClock {
    fn now_ms(&self) -> i64 {
        if self.frozen.load(Ordering::Relaxed) {
            self.frozen_at.load(Ordering::Relaxed)
        } else {
            real_now()
        }
    }
}
