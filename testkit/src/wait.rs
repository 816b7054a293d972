//! Waiting: for something to happen (polling, with a deadline), or for every job to finish
//! before a test asserts that nothing else happened.

use std::time::Duration;

use serde_json::Value;

use crate::app::TestApp;

/// How long [`TestApp::drain_jobs`] waits for the work to end before the test fails.
const DRAIN_WITHIN: Duration = Duration::from_secs(60);
/// Quiet looks in a row that count as drained: a job between leaving the queue and starting
/// its handler is in neither count for a moment, so one quiet look is not enough.
const QUIET_LOOKS: u32 = 3;

impl TestApp {
    /// Waits until every job has run: nothing due in any queue (retries waiting out their
    /// backoff included), no handler running in this process, and nothing in the database
    /// waiting for the feeder. Assertions that something did *not* happen (no second
    /// deactivation, no change to an order) come after this, not after a fixed sleep.
    ///
    /// The in-process workers and feeder do the work; jobs run by `paylink work` child
    /// processes are not seen here.
    pub async fn drain_jobs(&self) {
        let deadline = tokio::time::Instant::now() + DRAIN_WITHIN;
        let mut quiet = 0;
        let mut last = String::new();
        while quiet < QUIET_LOOKS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs still running after {DRAIN_WITHIN:?}: {last}"
            );
            let running = self.jobs.running.count();
            let waiting = paylink_core::feeder::waiting(&self.db)
                .await
                .expect("the backlog is readable");
            let mut due = Vec::new();
            for (queue, depth) in paylink_core::jobs::queue_depths(&self.engine.queue).await {
                due.push((queue, depth.expect("the queue answers")));
            }
            let busy = running > 0 || waiting > 0 || due.iter().any(|(_, n)| *n > 0);
            last = format!("{running} running, {waiting} waiting for the feeder, due: {due:?}");
            quiet = if busy { 0 } else { quiet + 1 };
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 20 s) until `check` holds for the order, and returns it.
    pub async fn wait_for_order(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let found = eventually(Duration::from_secs(20), || async {
            let order = self.get_order(id).await;
            check(&order).then_some(order)
        })
        .await;
        match found {
            Some(order) => order,
            None => panic!(
                "order {id}: {what} did not happen within 20 s; now {}",
                self.get_order(id).await
            ),
        }
    }
}

/// Polls `check` every 50 ms until it returns Some, or `within` passes (then None).
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
