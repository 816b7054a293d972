//! The feeder: moves mint work from the database backlog into the queue, a bounded window at a
//! time.
//!
//! apalis-redis promotes every due job in one Lua call and kills its workers when ~8,000 are due
//! at once (STACK-FACTS.md), so a blast of 50,000 orders must never become 50,000 due jobs. The
//! database holds the backlog (orders with no `enqueued_at`); every worker process runs a feeder,
//! a lock in Redis lets one at a time top the queue up to `window` due jobs, and the orders it takes
//! are stamped so they are taken once. An order stamped long ago and still not minted (its job was
//! lost with Redis) is taken again. Stored Stripe events the intake could not enqueue (the window
//! was full) are fed the same way.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::jobs::mint_link::MintLink;
use crate::jobs::stripe_event::StripeEvent;
use crate::queue::JobQueue;
use crate::store::{order, stripe_event};

/// How the feeder keeps the queue topped up.
#[derive(Clone, Debug)]
pub struct FeederSettings {
    /// Most mint jobs due in Redis at once.
    pub window: u64,
    /// How often each process tries to top up.
    pub interval: Duration,
    /// An order enqueued this long ago and still minting is enqueued again.
    pub requeue_after: Duration,
}

impl Default for FeederSettings {
    fn default() -> Self {
        Self {
            window: 1000,
            interval: Duration::from_millis(200),
            requeue_after: Duration::from_secs(600),
        }
    }
}

/// Tops the queue up every `interval` until `shutdown` completes.
pub async fn run_feeder(
    db: DatabaseConnection,
    queue: JobQueue,
    settings: FeederSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = feed_once(&db, &queue, &settings).await {
                    tracing::warn!(error = %format!("{e:#}"), "feeder pass failed");
                }
            }
        }
    }
}

/// One pass: if this process gets the lock, enqueue up to the free part of the window.
/// Returns how many jobs it enqueued.
pub async fn feed_once(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
) -> anyhow::Result<usize> {
    let Some(lock) = queue.lock_feeder().await? else {
        return Ok(0);
    };
    let fed = match top_up(db, queue, settings).await {
        Ok(mints) => top_up_events(db, queue, settings)
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

/// The stale-before instant for orders or events enqueued but never finished.
fn stale_before(settings: &FeederSettings) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
        - chrono::Duration::from_std(settings.requeue_after).unwrap_or(chrono::Duration::MAX)
}

/// Stored Stripe events waiting for room in the `stripe_event` queue (a burst of deliveries
/// larger than the window, or events whose job Redis lost).
async fn top_up_events(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
) -> anyhow::Result<usize> {
    let room = settings
        .window
        .saturating_sub(queue.due::<StripeEvent>().await?);
    if room == 0 {
        return Ok(0);
    }
    let ids = stripe_event::claim_backlog(db, room, stale_before(settings)).await?;
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

async fn top_up(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
) -> anyhow::Result<usize> {
    let due = queue.due::<MintLink>().await?;
    let room = settings.window.saturating_sub(due);
    if room == 0 {
        return Ok(0);
    }
    let orders = order::claim_backlog(db, room, stale_before(settings)).await?;
    let jobs: Vec<MintLink> = orders
        .into_iter()
        .map(|o| MintLink {
            order_id: o.id,
            generation: o.link_generation,
        })
        .collect();
    let count = jobs.len();
    queue.enqueue_many(jobs).await?;
    if count > 0 {
        tracing::debug!(count, due, "feeder enqueued mint jobs");
    }
    Ok(count)
}
