//! Time: the monotonic clock that tokens are reckoned on, the wall clock that callers see, and
//! a forward offset that tests can move so the one-hour and five-minute rules are tested
//! without waiting. Moving it only makes tokens look older, so it can never make an expired
//! token look valid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// tokio's Instant: the real monotonic clock, or the paused one in tests.
use tokio::time::Instant;

static PROCESS_OFFSET_MS: AtomicU64 = AtomicU64::new(0);

/// The process's monotonic now (plus the test offset): when requests are sent, and what the
/// process's cache goes by.
pub fn now() -> Instant {
    Clock::process().now()
}

/// Milliseconds since the Unix epoch on the wall clock.
pub fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A monotonic clock with a forward offset: the process's, or (in tests) one of its own.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset_ms: &'static AtomicU64,
}

impl Clock {
    pub fn process() -> Self {
        Clock {
            offset_ms: &PROCESS_OFFSET_MS,
        }
    }

    /// A clock whose offset moves alone (for tests that run side by side).
    #[cfg(test)]
    pub fn detached() -> Self {
        Clock {
            offset_ms: Box::leak(Box::new(AtomicU64::new(0))),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
