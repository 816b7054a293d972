//! One file per job: the payload and its handler side by side, and here the one list of them.
//!
//! A job is a payload type implementing [`Job`] (its queue name) and an apalis handler taking
//! the payload and the [`JobContext`](crate::JobContext). [`every_job!`] lists each pair once:
//! the worker pool registers a worker per entry ([`crate::workers`]), and the queue depths
//! ([`queue_depths`]: `/metrics`, the dashboard, the tests' drain) measure each entry's queue.
//! A new job is added to the list and to nothing else.

pub mod deactivate_link;
mod lease;
pub mod mint_link;
pub mod stripe_event;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::queue::{Job, JobQueue};

/// Calls `$then!($args… ; (Payload, handler), …)` with every job type and its handler.
macro_rules! every_job {
    ($then:ident $(, $arg:expr)*) => {
        $then!(
            $($arg),* ;
            ($crate::jobs::mint_link::MintLink, $crate::jobs::mint_link::mint_link),
            ($crate::jobs::stripe_event::StripeEvent, $crate::jobs::stripe_event::stripe_event),
            (
                $crate::jobs::deactivate_link::DeactivateLink,
                $crate::jobs::deactivate_link::deactivate_link
            )
        )
    };
}
pub(crate) use every_job;

/// Every job queue's name with how many jobs wait on it for a worker (an error when the queue
/// does not answer), in the order of [`every_job!`].
pub async fn queue_depths(queue: &JobQueue) -> Vec<(&'static str, anyhow::Result<u64>)> {
    macro_rules! depths {
        ($queue:expr ; $(($job:ty, $handler:path)),*) => {
            vec![$((<$job as Job>::QUEUE, $queue.due::<$job>().await)),*]
        };
    }
    every_job!(depths, queue)
}

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
