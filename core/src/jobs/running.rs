//! The jobs this process is running now, and the count of every job run, by outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many jobs this process is running now (the handlers between start and finish).
#[derive(Clone, Debug, Default)]
pub struct RunningJobs(Arc<AtomicUsize>);

impl RunningJobs {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Decrements the running count however the job ends (an error, a panic).
struct Running<'a>(&'a RunningJobs);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs one job's work: counted as running meanwhile, then in the metrics registry
/// (`paylink_jobs_total{job, outcome}`).
pub(crate) async fn counted<E>(
    job: &'static str,
    running: &RunningJobs,
    work: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), E> {
    running.0.fetch_add(1, Ordering::SeqCst);
    let _running = Running(running);
    let result = work.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("paylink_jobs_total", "job" => job, "outcome" => outcome).increment(1);
    result
}
