//! The clock port: the only way anything in Keyplane learns the time. Production code uses the
//! system clock (in the server crate); tests use [`ManualClock`], which only moves when told to.

use parking_lot::Mutex;
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// A clock that stands still until it is set or advanced: for tests.
#[derive(Debug)]
pub struct ManualClock {
    current: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            current: Mutex::new(start),
        }
    }

    /// Moves the clock to `instant`.
    pub fn set(&self, instant: OffsetDateTime) {
        *self.current.lock() = instant;
    }

    /// Moves the clock forward by `duration`.
    pub fn advance(&self, duration: time::Duration) {
        let mut current = self.current.lock();
        *current += duration;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.current.lock()
    }
}
