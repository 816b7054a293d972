//! What a job is to the workers: a payload that knows its work, and the one handler that runs
//! every type.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};

use super::counted;
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
