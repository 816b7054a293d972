//! How often the return page may ask Stripe about one order: once per [`EVERY`]. A payer
//! returns once; a reload reads paylink's own record. Anything more is someone replaying the
//! return URL with made-up session ids, and each of those would spend a Stripe read.
//!
//! In the process's memory: with several intake processes, each allows its own read a minute.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One Stripe read per order per this long.
pub const EVERY: Duration = Duration::from_secs(60);

/// Orders remembered at most; past it, those whose minute is over are forgotten, and if none
/// is, no read is allowed until one is (the webhook and the sweep settle payments anyway).
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct OnceAMinute {
    every: Duration,
    last: Mutex<HashMap<String, Instant>>,
}

impl Default for OnceAMinute {
    fn default() -> Self {
        Self::new(EVERY)
    }
}

impl OnceAMinute {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::default(),
        }
    }

    /// Whether the order may be read now; a yes counts as its read for the next minute.
    pub fn take(&self, order_id: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last
            .get(order_id)
            .is_some_and(|at| at.elapsed() < self.every)
        {
            return false;
        }
        if last.len() >= MAX_TRACKED && !last.contains_key(order_id) {
            last.retain(|_, at| at.elapsed() < self.every);
            if last.len() >= MAX_TRACKED {
                return false;
            }
        }
        last.insert(order_id.to_owned(), Instant::now());
        true
    }

    /// Gives the order's turn back: the read was not made after all (no rate-limit turn was
    /// free), so the payer's own return a moment later may still make it.
    pub fn give_back(&self, order_id: &str) {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(order_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_per_order_per_window() {
        let reads = OnceAMinute::new(Duration::from_millis(200));
        assert!(reads.take("ord_a"));
        assert!(!reads.take("ord_a"), "the same order within the window");
        assert!(reads.take("ord_b"), "another order has its own window");
        std::thread::sleep(Duration::from_millis(250));
        assert!(reads.take("ord_a"), "the window is over");
    }

    #[test]
    fn a_turn_given_back_may_be_taken_again() {
        let reads = OnceAMinute::default();
        assert!(reads.take("ord_a"));
        reads.give_back("ord_a");
        assert!(reads.take("ord_a"));
    }
}
