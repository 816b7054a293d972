//! Runs every job type on the queue's backend, with the feeder and the sweeps of Stripe beside
//! them, rebuilding the workers whenever the backend fails. [`crate::pool::WorkerPool`] is the
//! handle that starts and stops it.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt as _;
use apalis::prelude::*;

use futures::FutureExt as _;

use crate::context::JobContext;
use crate::jobs::{every_job, run_job};
use crate::queue::{Job, JobQueue};
use crate::{feeder, stripe_sync};

/// How the worker pool runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs of one type a process runs at once.
    pub concurrency: usize,
    pub feeder: feeder::FeederSettings,
    pub sync: stripe_sync::SyncSettings,
    pub outbound: crate::outbound::OutboundSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            feeder: feeder::FeederSettings::default(),
            sync: stripe_sync::SyncSettings::default(),
            outbound: crate::outbound::OutboundSettings::default(),
        }
    }
}

/// A worker name unique to this process and queue: apalis refuses a name still registered by a
/// process that died, so a restart must never reuse one.
fn worker_name(queue: &str) -> String {
    format!(
        "{queue}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Runs every job type until `shutdown` completes, then stops fetching and lets in-flight jobs
/// finish.
pub(crate) async fn run_workers(
    ctx: Arc<JobContext>,
    queue: JobQueue,
    settings: WorkerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let shutdown = shutdown.shared();
    let stop = |name: &'static str| {
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            tracing::info!(worker = name, "stopping");
            Ok::<(), std::io::Error>(())
        }
    };
    // Every 100 ms while jobs come; slower while none do (crate::idle): an idle worker must not
    // ask its queue thirty times a second.
    let poll = Duration::from_millis(100);
    let idle = apalis::prelude::BackoffConfig::new(crate::idle::IDLE_WAIT);
    // One worker per job type, on whichever backend the queue uses. Macros rather than a
    // generic function: apalis's service-stack bounds cannot be named for both backends.
    //
    // Each worker is a task of its own (on the pool thread's LocalSet: the futures are not
    // `Send`). Joined in one task, every wake of one worker polled all of them, and a backend
    // polled while idle starts a fetch; each fetch's answer woke the others, which fetched in
    // turn: an idle `paylink run` spent a whole core asking SQLite for jobs.
    macro_rules! worker {
        ($backend:expr, $job:ty) => {
            own_task(
                WorkerBuilder::new(worker_name(<$job>::QUEUE))
                    .backend(
                        $backend
                            .storage::<$job>()
                            .poll_with_backoff(poll, idle.clone()),
                    )
                    .concurrency(settings.concurrency)
                    .parallelize(tokio::spawn)
                    .data(ctx.clone())
                    .data(queue.clone())
                    .build(run_job::<$job>)
                    .run_until(stop(<$job>::QUEUE)),
            )
        };
    }
    macro_rules! workers_on {
        ($backend:expr ; $($job:ty),*) => {
            futures::try_join!($(worker!($backend, $job)),*)
        };
    }
    let feed = feeder::run_feeder(
        ctx.clone(),
        queue.clone(),
        settings.feeder.clone(),
        shutdown.clone(),
    );
    // A worker stops with an error when its backend fails (Redis down or flushed, the SQLite
    // file locked past the timeout). The process stays up: the pool is rebuilt, under new
    // worker names, until the queue answers again; the database still holds every piece of
    // unfinished work, and the feeder and reconciler put it back on the queue.
    let workers = async {
        loop {
            let stopped = match &queue {
                JobQueue::Redis(backend) => every_job!(workers_on, backend).map(|_| ()),
                JobQueue::Embedded(backend) => every_job!(workers_on, backend).map(|_| ()),
            };
            let error = match stopped {
                Ok(()) => return,
                Err(e) => e,
            };
            if shutdown.clone().now_or_never().is_some() {
                return;
            }
            tracing::error!(error = %error, "a worker stopped; restarting the workers in {RESTART_AFTER:?}");
            tokio::select! {
                () = shutdown.clone() => return,
                () = tokio::time::sleep(RESTART_AFTER) => {}
            }
        }
    };
    let sync = stripe_sync::run(
        ctx.clone(),
        queue.clone(),
        settings.sync.clone(),
        shutdown.clone(),
    );
    let deliver =
        crate::outbound::dispatch::run(ctx.db.clone(), settings.outbound.clone(), shutdown.clone());
    futures::join!(workers, feed, sync, deliver);
    Ok(())
}

/// Runs `work` as a task of its own on the current LocalSet and waits for it. A panic inside
/// goes on unwinding here, where the pool's supervisor catches it; dropping the wait (another
/// worker failed, the pool stops) aborts the task, so a rebuilt pool never runs beside the old.
async fn own_task<E: 'static>(
    work: impl std::future::Future<Output = Result<(), E>> + 'static,
) -> Result<(), E> {
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let task = tokio::task::spawn_local(work);
    let _abort = AbortOnDrop(task.abort_handle());
    match task.await {
        Ok(ended) => ended,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Aborted: only by our own guard, once nobody waits.
        Err(_) => Ok(()),
    }
}

/// Pause before the pool is rebuilt after a worker failed (or, in `pool.rs`, panicked).
pub(crate) const RESTART_AFTER: Duration = Duration::from_secs(2);
