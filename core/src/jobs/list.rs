//! The one list of the job types: the worker pool registers a worker per entry
//! ([`crate::workers`]), and the queue depths measure each entry's queue. A new job is a file in
//! `jobs/` and a line here.

use crate::queue::{Job, JobQueue};

/// Calls `$then!($args… ; Payload, …)` with every job type.
macro_rules! every_job {
    ($then:ident $(, $arg:expr)*) => {
        $then!(
            $($arg),* ;
            $crate::jobs::mint_link::MintLink,
            $crate::jobs::stripe_event::StripeEvent,
            $crate::jobs::deactivate_link::DeactivateLink,
            $crate::jobs::send_email::SendEmail
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
