//! How long a polling loop waits before it looks again: its own interval while it finds work,
//! twice as long after each look that finds none, up to [`IDLE_WAIT`]. With nothing to do, a
//! process then asks its database and queue a few times a second in all instead of dozens, so
//! an idle `paylink run` costs well under 1 % of a core (`benches/idle.rs` measures it); new
//! work waits at most [`IDLE_WAIT`] to be noticed.

use std::time::Duration;

/// The longest wait of an idle loop.
pub const IDLE_WAIT: Duration = Duration::from_secs(2);

/// One loop's wait between looks.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    busy: Duration,
    idle_max: Duration,
    current: Duration,
}

impl Backoff {
    /// Waits `busy` while there is work, growing to `idle_max` (at least `busy`) while there is
    /// none.
    pub fn new(busy: Duration, idle_max: Duration) -> Self {
        Self {
            busy,
            idle_max: idle_max.max(busy),
            current: busy,
        }
    }

    /// The wait before the next look, given whether this look found work.
    pub fn next(&mut self, found_work: bool) -> Duration {
        self.current = if found_work {
            self.busy
        } else {
            (self.current * 2).min(self.idle_max)
        };
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_loop_slows_down_to_the_cap_and_work_brings_it_back_at_once() {
        let mut wait = Backoff::new(Duration::from_millis(200), IDLE_WAIT);
        let idle: Vec<u128> = (0..6).map(|_| wait.next(false).as_millis()).collect();
        assert_eq!(idle, [400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(wait.next(true), Duration::from_millis(200));
        assert_eq!(wait.next(false), Duration::from_millis(400));
    }

    #[test]
    fn a_busy_interval_above_the_cap_is_kept() {
        let mut wait = Backoff::new(Duration::from_secs(5), IDLE_WAIT);
        assert_eq!(wait.next(false), Duration::from_secs(5));
    }
}
