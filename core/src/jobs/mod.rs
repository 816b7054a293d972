//! One file per job: the payload and its handler side by side, and here the one list of them.
//!
//! A job is a payload type implementing [`BackgroundJob`]: its queue's name ([`Job::QUEUE`]) and
//! `run`, which does the work with the shared [`JobContext`] and the queue (to hand work on).
//! [`run_job`] is the one apalis handler for every job type. [`every_job!`] lists the types
//! once: the worker pool registers a worker per entry ([`crate::workers`]), and the queue depths
//! ([`queue_depths`]: `/metrics`, the dashboard, the tests' drain) measure each entry's queue.
//! A new job is a file here and a line in that list.

pub mod deactivate_link;
mod lease;
pub mod mint_link;
pub mod stripe_event;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apalis::prelude::{BoxDynError, Data};

use crate::context::JobContext;
use crate::queue::{Job, JobQueue};

/// A job: the payload on its queue, and the work it stands for.
pub trait BackgroundJob: Job {
    /// Does the job's work. Every job is idempotent: the queue may hand it out more than once.
    fn run(
        self,
        ctx: &JobContext,
        queue: &JobQueue,
    ) -> impl std::future::Future<Output = Result<(), BoxDynError>> + Send;
}

/// The apalis handler of every job type: runs the job, counted as running and in the metrics.
pub(crate) async fn run_job<J: BackgroundJob>(
    job: J,
    ctx: Data<Arc<JobContext>>,
    queue: Data<JobQueue>,
) -> Result<(), BoxDynError> {
    counted(J::QUEUE, &ctx.running, job.run(&ctx, &queue)).await
}

/// Calls `$then!($args… ; Payload, …)` with every job type.
macro_rules! every_job {
    ($then:ident $(, $arg:expr)*) => {
        $then!(
            $($arg),* ;
            $crate::jobs::mint_link::MintLink,
            $crate::jobs::stripe_event::StripeEvent,
            $crate::jobs::deactivate_link::DeactivateLink
        )
    };
}
pub(crate) use every_job;

/// Every job queue's name with how many jobs wait on it for a worker (an error when the queue
/// does not answer), in the order of [`every_job!`].
pub async fn queue_depths(queue: &JobQueue) -> Vec<(&'static str, anyhow::Result<u64>)> {
    macro_rules! depths {
        ($queue:expr ; $($job:ty),*) => {
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
