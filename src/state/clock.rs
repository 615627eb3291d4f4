//! Time source for the finding lifecycle, injected so that tests can fix and advance the clock.

use std::fmt::Debug;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Where "now" comes from: first-seen times, remediation durations and exception expiry all
/// depend on it, so lifecycle logic never reads the system clock directly.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock (UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to: unit tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Start at a unix timestamp in seconds (tests read better with plain numbers).
    pub fn at_unix(seconds: i64) -> Self {
        Self::new(
            OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    pub fn set(&self, t: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, d: std::time::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
