//! Time: the monotonic clock that tokens are reckoned on, the wall clock that callers see, and
//! the cache's own clock, which tests can move forward so the one-hour and five-minute rules
//! are tested without waiting. Moving it only makes tokens look older, so it can never make an
//! expired token look valid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The monotonic now.
pub fn now() -> Instant {
    Instant::now()
}

/// Milliseconds since the Unix epoch on the wall clock.
pub fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The monotonic clock plus a forward offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    pub const fn new() -> Self {
        Clock {
            offset_ms: AtomicU64::new(0),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX / 2);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
