//! The feeder: moves work from the database backlog into the queue, a bounded window at a time,
//! and runs the reconciler's sweep every so often.
//!
//! apalis-redis promotes every due job in one Lua call and kills its workers when ~8,000 are due
//! at once, so a blast of 50,000 orders must never become 50,000 due jobs. The database holds
//! the backlog (orders and events with no `enqueued_at`); every worker process runs a feeder, a
//! lock in Redis lets one at a time top the queue up to `window` due jobs, and what it enqueued is
//! stamped afterwards, so a feeder killed mid-pass leaves its rows in the backlog, not lost.
//!
//! Each pass also reads the queue's generation marker (see [`crate::queue::Generation`]): when
//! Redis has lost its data, the rows stamped before the new generation began are waiting work
//! again, and the feeder hands them out at once, a window at a time. docs/operations.md ("What
//! paylink survives") says how long that takes.

use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use crate::queue::JobQueue;
use crate::reconcile::{self, ReconcileSettings};
use crate::store::{email, order, stripe_event};
use crate::top_up::{top_up_emails, top_up_events, top_up_orders};

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
pub(crate) async fn run_feeder(
    ctx: std::sync::Arc<crate::context::JobContext>,
    queue: JobQueue,
    settings: FeederSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let db = &ctx.db;
    tokio::pin!(shutdown);
    let mut key_tried = Instant::now();
    // Every `interval` while there is work to move; slower while there is none (crate::idle).
    let mut wait = crate::idle::Backoff::new(settings.interval, crate::idle::IDLE_WAIT);
    let mut next = settings.interval;
    // Sweep once at start: a process restarted after a crash picks up lost work at once.
    let mut last_sweep = Instant::now()
        .checked_sub(settings.reconcile.interval)
        .unwrap_or_else(Instant::now);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(next) => {
                let mut sweep_now = last_sweep.elapsed() >= settings.reconcile.interval;
                let mut found_work = false;
                // While Stripe refuses the key, no mint job is handed out (`top_up_orders`);
                // now and then one waiting order tries it again (crate::stripe_key).
                match crate::stripe_key::refresh(&ctx).await {
                    Ok(Some(standing)) if key_tried.elapsed() >= crate::stripe_key::RECHECK_EVERY => {
                        key_tried = Instant::now();
                        match try_key_again(&ctx, &standing).await {
                            Ok(resumed) => found_work |= resumed,
                            Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not try paylink's API key again"),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not read whether Stripe refused the key"),
                }
                // As refreshed just above (or, if that read failed, as last known).
                let minting_paused = ctx.key_pause.is_paused();
                match feed_once(db, &queue, &settings, minting_paused, ctx.mail.as_deref()).await {
                    // Deactivations lost with the queue are the sweep's to find: now, not at
                    // the next interval.
                    Ok(pass) => {
                        sweep_now |= pass.queue_was_lost;
                        found_work |= pass.busy;
                    }
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "feeder pass failed"),
                }
                if sweep_now {
                    last_sweep = Instant::now();
                    match reconcile::sweep(db, &queue, settings.window, &settings.reconcile, minting_paused, ctx.mail.as_deref()).await {
                        Ok(Some(report)) if !report.is_empty() => {
                            found_work = true;
                            tracing::warn!(?report, "reconciler re-enqueued lost work");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reconcile sweep failed"),
                    }
                }
                next = wait.next(found_work);
            }
        }
    }
}

/// One try of a refused key (crate::stripe_key): a mint of one waiting order, under its own
/// idempotency key as any mint, or a read when none waits. A refusal of the key's mode waits
/// for a restart. Answers whether link-making resumes.
async fn try_key_again(
    ctx: &crate::context::JobContext,
    standing: &crate::stripe_key::KeyRefusal,
) -> anyhow::Result<bool> {
    use crate::jobs::mint_link::{MintOutcome, mint_order_link};
    if standing.status == crate::stripe_key::WRONG_MODE {
        return Ok(false);
    }
    let Some(waiting) = order::backlog(&ctx.db, 1, None).await?.into_iter().next() else {
        return Ok(crate::stripe_key::read_check(ctx).await?);
    };
    // One request; a refusal records itself. Stripe answered with the key taken when it made
    // the link or refused the request for another reason (a 4xx past authentication).
    match mint_order_link(ctx, &waiting.id, waiting.link_generation, 1, None).await? {
        MintOutcome::Minted(_) | MintOutcome::Refused(_) => {
            Ok(crate::stripe_key::accepted(ctx).await?)
        }
        MintOutcome::Paused(_) => Ok(false),
        MintOutcome::GaveUp(message) => {
            tracing::warn!(error = %message, "trying paylink's API key again did not tell");
            Ok(false)
        }
        // Settled without asking Stripe (the order moved on meanwhile): ask with a read.
        MintOutcome::AlreadyMinted(_) | MintOutcome::Skipped(_) => {
            Ok(crate::stripe_key::read_check(ctx).await?)
        }
    }
}

/// Work waiting in the database for the feeder: orders to mint and events to process that no
/// job was enqueued for yet. With nothing due or running in the queue, zero means all work is
/// done (the tests' drain waits for that).
pub async fn waiting(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    Ok(crate::store::dashboard::backlog(db).await?
        + stripe_event::backlog(db).await?
        + email::backlog_count(db).await?)
}

/// What one feeder pass found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedPass {
    /// Redis had lost the queue (this pass began a new generation).
    pub queue_was_lost: bool,
    /// This pass enqueued jobs, or found the window full: keep the busy pace.
    pub busy: bool,
}

/// One pass: if this process gets the lock, enqueue waiting work up to the free part of the
/// window. Waiting work is what was never enqueued, and what was enqueued before the queue's
/// current generation began (a Redis that lost its data no longer holds it). With
/// `minting_paused` (Stripe refuses the key), no mint job.
pub(crate) async fn feed_once(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
    minting_paused: bool,
    mailer: Option<&crate::mailer::Mailer>,
) -> anyhow::Result<FeedPass> {
    let Some(lock) = queue.lock_feeder().await? else {
        return Ok(FeedPass::default());
    };
    let fed = feed_locked(db, queue, settings, minting_paused, mailer).await;
    lock.release().await;
    if let Err(e) = queue.tidy().await {
        tracing::warn!(error = %format!("{e:#}"), "queue housekeeping failed");
    }
    fed
}

async fn feed_locked(
    db: &DatabaseConnection,
    queue: &JobQueue,
    settings: &FeederSettings,
    minting_paused: bool,
    mailer: Option<&crate::mailer::Mailer>,
) -> anyhow::Result<FeedPass> {
    let generation = queue.generation().await?;
    let lost_before = generation.map(|g| g.started_at);
    let orders = top_up_orders(db, queue, settings.window, lost_before, minting_paused).await?;
    let events = top_up_events(db, queue, settings.window, lost_before).await?;
    let mails = top_up_emails(db, queue, settings.window, lost_before, mailer).await?;
    Ok(FeedPass {
        queue_was_lost: generation.is_some_and(|g| g.began_now),
        busy: orders.busy() || events.busy() || mails.busy(),
    })
}
