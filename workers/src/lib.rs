//! The engine the intake hands work to: the store, the Stripe wrapper and the jobs, plus the
//! worker pool that runs every job type. Depends on `migration` only; never on the intake.

pub mod context;
pub mod feeder;
pub mod jobs;
pub mod policy;
pub mod queue;
pub mod reconcile;
pub mod settle;
pub mod store;
pub mod stripe;
pub mod stripe_sync;

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt as _;
use apalis::prelude::*;

pub use context::{JobContext, RetrySettings};
pub use queue::JobQueue;

use futures::FutureExt as _;
use jobs::deactivate_link::{DeactivateLink, deactivate_link};
use jobs::mint_link::{MintLink, mint_link};
use jobs::stripe_event::{EventDeps, StripeEvent, stripe_event};
use queue::Job;

/// How the worker pool runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs of one type a process runs at once.
    pub concurrency: usize,
    pub feeder: feeder::FeederSettings,
    pub sync: stripe_sync::SyncSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            feeder: feeder::FeederSettings::default(),
            sync: stripe_sync::SyncSettings::default(),
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
pub async fn run_workers(
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
    let poll = Duration::from_millis(100);
    // One worker per job type, on whichever backend the queue uses. A macro rather than a
    // generic function: apalis's service-stack bounds cannot be named for both backends.
    macro_rules! worker {
        ($backend:expr, $job:ty, $handler:expr $(, $data:expr)*) => {
            WorkerBuilder::new(worker_name(<$job>::QUEUE))
                .backend($backend.storage::<$job>().poll_with_interval(poll))
                .concurrency(settings.concurrency)
                .parallelize(tokio::spawn)
                .data(ctx.clone())
                $(.data($data))*
                .build($handler)
                .run_until(stop(<$job>::QUEUE))
        };
    }
    macro_rules! all_workers {
        ($backend:expr) => {
            futures::try_join!(
                worker!($backend, MintLink, mint_link),
                worker!(
                    $backend,
                    StripeEvent,
                    stripe_event,
                    EventDeps {
                        queue: queue.clone()
                    }
                ),
                worker!($backend, DeactivateLink, deactivate_link),
            )
        };
    }
    let feed = feeder::run_feeder(
        ctx.db.clone(),
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
                JobQueue::Redis(backend) => all_workers!(backend).map(|_| ()),
                JobQueue::Embedded(backend) => all_workers!(backend).map(|_| ()),
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
    futures::join!(workers, feed, sync);
    Ok(())
}

/// Pause before the pool is rebuilt after a worker failed.
const RESTART_AFTER: Duration = Duration::from_secs(2);

/// Runs [`run_workers`] on a thread of its own and returns its handle.
///
/// The worker future apalis builds is not provably `Send` to the compiler (a higher-ranked
/// lifetime inside apalis's service stack), so it cannot go to `tokio::spawn`; it is created and
/// driven on a blocking-pool thread instead, while the jobs it runs still spawn onto the runtime.
pub fn spawn_workers(
    ctx: Arc<JobContext>,
    queue: JobQueue,
    settings: WorkerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        runtime.block_on(run_workers(ctx, queue, settings, shutdown))
    })
}
