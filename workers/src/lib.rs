//! The engine the intake hands work to: the store, the Stripe wrapper and the jobs, plus the
//! worker pool that runs every job type. Depends on `migration` only; never on the intake.

pub mod context;
pub mod jobs;
pub mod policy;
pub mod queue;
pub mod store;
pub mod stripe;

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt as _;
use apalis::prelude::*;

pub use context::{JobContext, RetrySettings};
pub use queue::JobQueue;

use jobs::mint_link::{MintLink, mint_link};

/// How the worker pool runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs of one type a process runs at once.
    pub concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self { concurrency: 16 }
    }
}

/// Runs every job type until `shutdown` completes, then stops fetching and lets in-flight jobs
/// finish. Worker names are unique per process so that a restarted process is never refused.
pub async fn run_workers(
    ctx: Arc<JobContext>,
    queue: JobQueue,
    settings: WorkerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let name = format!(
        "{}-{}-{}",
        MintLink::QUEUE,
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let storage = queue
        .storage::<MintLink>(MintLink::QUEUE)
        .poll_with_interval(Duration::from_millis(100));
    let worker = WorkerBuilder::new(name)
        .backend(storage)
        .concurrency(settings.concurrency)
        .parallelize(tokio::spawn)
        .data(ctx)
        .build(mint_link);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("mint_link worker stopped: {e}"))
}

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
