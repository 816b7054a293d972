//! The worker pool as a handle its owner starts and stops: [`WorkerPool::start`] runs every job
//! type, the feeder and the sweeps; [`WorkerPool::shutdown`] stops fetching and waits a grace
//! period for in-flight jobs.
//!
//! apalis's `Monitor` would offer the same (registration, restart, graceful stop), but it takes
//! only services whose futures are provably `Send`, and the ones apalis builds for our handlers
//! are not (a higher-ranked lifetime inside its service stack). So the pool is driven on a
//! blocking-pool thread of its own, with the restart loop in [`crate::workers`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::context::JobContext;
use crate::queue::JobQueue;
use crate::workers::{RESTART_AFTER, WorkerSettings, run_workers};

/// A running pool. Dropping it asks the pool to stop without waiting.
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

impl WorkerPool {
    /// Starts the pool on the current runtime.
    ///
    /// The pool's future is created and driven on a blocking-pool thread (it cannot go to
    /// `tokio::spawn`, see the module comment); the jobs it runs still spawn onto the runtime.
    pub fn start(ctx: Arc<JobContext>, queue: JobQueue, settings: WorkerSettings) -> Self {
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Handle::current();
        // A LocalSet on that thread, so that each worker runs as a task of its own (see
        // `crate::workers::run_workers`).
        let running = tokio::task::spawn_blocking(move || {
            runtime.block_on(
                tokio::task::LocalSet::new().run_until(supervise(ctx, queue, settings, stopped)),
            )
        });
        Self {
            stop,
            running: Some(running),
        }
    }

    /// Completes if the pool ends by itself (it should not: it restarts failed workers), with
    /// its error.
    pub async fn finished(&mut self) -> anyhow::Result<()> {
        match self.running.as_mut() {
            Some(running) => {
                let ended = running.await;
                self.running = None;
                ended.map_err(|e| anyhow::anyhow!("the workers panicked: {e}"))?
            }
            None => std::future::pending().await,
        }
    }

    /// Stops fetching jobs and waits at most `grace` for the ones in flight. Jobs still running
    /// then are abandoned, not lost: their rows are unfinished in the database, the queue hands
    /// them to another worker once this process's heartbeat lapses, and the reconciler
    /// re-enqueues what it must. Returns whether every job finished in time.
    pub async fn shutdown(mut self, grace: Duration) -> anyhow::Result<bool> {
        let _ = self.stop.send(true);
        let Some(running) = self.running.take() else {
            return Ok(true);
        };
        match tokio::time::timeout(grace, running).await {
            Ok(joined) => joined
                .map_err(|e| anyhow::anyhow!("the workers panicked: {e}"))?
                .map(|()| true),
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "in-flight jobs did not finish in time; they return to the queue"
                );
                Ok(false)
            }
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs the pool, and runs it again if it panics (a bug in a dependency reached by a lost
/// Redis, say): a worker process must not end while the intake goes on handing it work. The
/// panic is logged and counted (`paylink_worker_pool_restarts_total`); the work it held is in
/// the database and returns to the queue as after a crash.
async fn supervise(
    ctx: Arc<JobContext>,
    queue: JobQueue,
    settings: WorkerSettings,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use futures::FutureExt as _;
    loop {
        let run = run_workers(
            ctx.clone(),
            queue.clone(),
            settings.clone(),
            wait(stopped.clone()),
        );
        let panic = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
            Ok(ended) => return ended,
            Err(panic) => panic,
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        metrics::counter!("paylink_worker_pool_restarts_total").increment(1);
        tracing::error!(panic = %message, "the workers panicked; starting them again in {RESTART_AFTER:?}");
        tokio::select! {
            () = wait(stopped.clone()) => return Ok(()),
            () = tokio::time::sleep(RESTART_AFTER) => {}
        }
    }
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
