//! The feeder: moves work from the database backlog into the queue, a bounded window at a time,
//! and runs the reconciler's sweep every so often.
//!
//! apalis-redis promotes every due job in one Lua call and kills its workers when ~8,000 are due
//! at once (STACK-FACTS.md), so a blast of 50,000 orders must never become 50,000 due jobs. The
//! database holds the backlog (orders and events with no `enqueued_at`); every worker process
//! runs a feeder, a lock in Redis lets one at a time top the queue up to `window` due jobs, and
//! what it takes is stamped so it is taken once.

use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use crate::jobs::mint_link::MintLink;
use crate::jobs::stripe_event::StripeEvent;
use crate::queue::{Job, JobQueue};
use crate::reconcile::{self, ReconcileSettings};
use crate::store::{order, stripe_event};

/// How the feeder keeps the queue topped up.
#[derive(Clone, Debug)]
pub struct FeederSettings {
    /// Most jobs of one type due in the queue at once.
    pub window: u64,
    /// How often each process tries to top up.
    pub interval: Duration,
    pub reconcile: ReconcileSettings,
}

impl Default for FeederSettings {
    fn default() -> Self {
        Self {
            window: 1000,
            interval: Duration::from_millis(200),
            reconcile: ReconcileSettings::default(),
        }
    }
}

/// Tops the queue up every `interval`, and sweeps every `reconcile.interval`, until `shutdown`
/// completes.
pub async fn run_feeder(
    db: DatabaseConnection,
    queue: JobQueue,
    settings: FeederSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Sweep once at start: a process restarted after a crash picks up lost work at once.
    let mut last_sweep = Instant::now()
        .checked_sub(settings.reconcile.interval)
        .unwrap_or_else(Instant::now);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = feed_once(&db, &queue, &settings).await {
                    tracing::warn!(error = %format!("{e:#}"), "feeder pass failed");
                }
                if last_sweep.elapsed() >= settings.reconcile.interval {
                    last_sweep = Instant::now();
                    match reconcile::sweep(&db, &queue, &settings).await {
                        Ok(Some(report)) if !report.is_empty() => {
                            tracing::warn!(?report, "reconciler re-enqueued lost work");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reconcile sweep failed"),
                    }
                }
            }
        }
    }
}

/// One pass: if this process gets the lock, enqueue never-enqueued work up to the free part of
/// the window. Returns how many jobs it enqueued.
pub async fn feed_once(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
) -> anyhow::Result<usize> {
    let Some(lock) = queue.lock_feeder().await? else {
        return Ok(0);
    };
    let fed = match top_up_orders(db, queue, settings.window, None).await {
        Ok(mints) => top_up_events(db, queue, settings.window, None)
            .await
            .map(|events| mints + events),
        Err(e) => Err(e),
    };
    lock.release().await;
    if let Err(e) = queue.tidy().await {
        tracing::warn!(error = %format!("{e:#}"), "queue housekeeping failed");
    }
    fed
}

/// Room left in the window for jobs of type `J`.
async fn room<J: Job>(queue: &JobQueue, window: u64) -> anyhow::Result<u64> {
    Ok(window.saturating_sub(queue.due::<J>().await?))
}

/// Enqueues mint jobs for orders waiting in the backlog (and, given `stale_before`, for orders
/// whose job was enqueued before it and lost).
pub(crate) async fn top_up_orders(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<usize> {
    let room = room::<MintLink>(queue, window).await?;
    if room == 0 {
        return Ok(0);
    }
    let jobs: Vec<MintLink> = order::claim_backlog(db, room, stale_before)
        .await?
        .into_iter()
        .map(|o| MintLink {
            order_id: o.id,
            generation: o.link_generation,
        })
        .collect();
    let count = jobs.len();
    queue.enqueue_many(jobs).await?;
    Ok(count)
}

/// Enqueues stored Stripe events waiting for room in the `stripe_event` queue (a burst of
/// deliveries larger than the window), and, given `stale_before`, events whose job was lost.
pub(crate) async fn top_up_events(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<usize> {
    let room = room::<StripeEvent>(queue, window).await?;
    if room == 0 {
        return Ok(0);
    }
    let ids = stripe_event::claim_backlog(db, room, stale_before).await?;
    let count = ids.len();
    queue
        .enqueue_many(
            ids.into_iter()
                .map(|event_id| StripeEvent { event_id })
                .collect(),
        )
        .await?;
    Ok(count)
}
