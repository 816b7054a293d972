//! Staying in step with Stripe, the ledger: two sweeps that find what no webhook told us.
//!
//! - **Events** (every `stripe_sweep`, 300 s by default): lists `GET /v1/events` for the
//!   Checkout Session types since a stored cursor, less an overlap (an event can be listed a
//!   little after its `created` time), and stores every event not stored yet, marked as from
//!   the sweep. The feeder hands them to `stripe_event` like deliveries, so an event seen both
//!   ways is processed once.
//! - **Links** (every `link_sweep`, 3600 s by default, and soon after a create whose outcome
//!   was unknown): lists the active Payment Links and switches off every one whose
//!   `metadata.order_id` names an order of ours that does not keep it as its live link, an
//!   orphan a Stripe 500 or timeout hid (the retry made another), recording it in
//!   `payment_links`.
//!
//! One process at a time runs each sweep (a lock in Redis; the embedded queue has one process),
//! and the last run's time is in the database, so the intervals hold for the whole fleet. Their
//! Stripe reads take no more than `share` of the rate limit (see [`crate::stripe::StripeApi`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::context::JobContext;
use crate::jobs::deactivate_link;
use crate::queue::JobQueue;
use crate::store::{order, payment_link, product, stripe_cursor, stripe_event};

/// How often the sweeps run.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub event_sweep: Duration,
    pub link_sweep: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            event_sweep: Duration::from_secs(300),
            link_sweep: Duration::from_secs(3600),
        }
    }
}

/// How far before the cursor each event sweep reads again.
const OVERLAP_SECS: i64 = 600;
/// Stripe keeps events for 30 days.
const EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;
/// The longest a sweep holds its lock. A listing of a large account at the sweeps' share of the
/// rate limit takes minutes; one that runs longer may overlap the next (harmless, but costly).
const SWEEP_LOCK_TTL: Duration = Duration::from_secs(900);
/// How often each process looks whether a sweep is due.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How far before the time it was asked for an early link sweep looks (the unknown outcome
/// came 10 s before it; a margin for clocks and slow requests).
const EARLY_RUN_LOOKBACK: chrono::Duration = chrono::Duration::seconds(120);

/// When the link sweep met orders still minting, it looks again this much later.
const RECHECK_MINTING: chrono::Duration = chrono::Duration::seconds(10);

/// What an event sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSweep {
    pub listed: usize,
    /// Events no delivery had brought.
    pub new: usize,
}

/// What a link sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkSweep {
    pub listed: usize,
    /// Active links of ours that must not be, now being switched off.
    pub orphans: usize,
    /// Links of orders still minting, left for the next look.
    pub deferred: usize,
}

/// Runs both sweeps when due, until `shutdown` completes.
pub async fn run(
    ctx: Arc<JobContext>,
    queue: JobQueue,
    settings: SyncSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = events_if_due(&ctx, &queue, settings.event_sweep).await {
                    tracing::warn!(error = %format!("{e:#}"), "the sweep of Stripe's events failed");
                }
                if let Err(e) = links_if_due(&ctx, &queue, settings.link_sweep).await {
                    tracing::warn!(error = %format!("{e:#}"), "the sweep of Stripe's links failed");
                }
            }
        }
    }
}

async fn due(ctx: &JobContext, name: &str, interval: Duration) -> anyhow::Result<bool> {
    let row = stripe_cursor::get(&ctx.db, name).await?;
    Ok(stripe_cursor::is_due(row.as_ref(), interval, Utc::now()))
}

/// Runs the event sweep if it is due and this process gets its turn.
pub(crate) async fn events_if_due(
    ctx: &JobContext,
    queue: &JobQueue,
    interval: Duration,
) -> anyhow::Result<Option<EventSweep>> {
    if !due(ctx, stripe_cursor::EVENTS, interval).await? {
        return Ok(None);
    }
    let Some(lock) = queue
        .lock_sweep(stripe_cursor::EVENTS, SWEEP_LOCK_TTL)
        .await?
    else {
        return Ok(None);
    };
    // Another process may have finished a run between the first look and the lock.
    let result = match due(ctx, stripe_cursor::EVENTS, interval).await {
        Ok(true) => sweep_events(ctx).await.map(Some),
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    if result.is_err() {
        retry_later(ctx, stripe_cursor::EVENTS).await;
    }
    lock.release().await;
    if let Ok(Some(report)) = &result {
        metrics::counter!("paylink_stripe_sweep_events_found_total").increment(report.new as u64);
        if report.new > 0 {
            tracing::warn!(
                listed = report.listed,
                new = report.new,
                "the event sweep found events no webhook delivered"
            );
        }
    }
    result
}

/// How long after a failed sweep (Stripe or the database unreachable) it is tried again.
const RETRY_FAILED_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// A failed sweep is tried again in [`RETRY_FAILED_AFTER`], not at every check (a wrong key or
/// Stripe down must not become a request a second), and not only after its full interval.
async fn retry_later(ctx: &JobContext, name: &str) {
    let now = Utc::now();
    let deferred = match stripe_cursor::finish_run(&ctx.db, name, now, None).await {
        Ok(()) => stripe_cursor::request_run(&ctx.db, name, now + RETRY_FAILED_AFTER).await,
        Err(e) => Err(e),
    };
    if let Err(e) = deferred {
        tracing::warn!(sweep = name, error = %e, "could not put off the failed sweep");
    }
}

/// Reads Stripe's checkout-session events since the cursor and stores the ones not stored.
pub(crate) async fn sweep_events(ctx: &JobContext) -> anyhow::Result<EventSweep> {
    let started = Utc::now();
    let cursor = stripe_cursor::get(&ctx.db, stripe_cursor::EVENTS)
        .await?
        .and_then(|c| c.position);
    let oldest_kept = started.timestamp() - EVENT_RETENTION_SECS;
    let Some(position) = cursor else {
        // The first look only places the cursor: nothing can have been paid through paylink
        // before its first order. Stripe is first asked one interval later, so a fresh
        // process makes no request at start.
        let first = order::earliest_created(&ctx.db)
            .await?
            .map_or(started.timestamp(), |t| t.timestamp());
        stripe_cursor::finish_run(&ctx.db, stripe_cursor::EVENTS, started, Some(first)).await?;
        return Ok(EventSweep::default());
    };
    let from = (position - OVERLAP_SECS).max(oldest_kept);
    let mut report = EventSweep::default();
    let mut newest = position;
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .stripe
            .list_checkout_events(from, after.as_deref())
            .await?;
        report.listed += page.items.len();
        let events: Vec<stripe_event::NewEvent> = page
            .items
            .into_iter()
            .map(|e| {
                newest = newest.max(e.created);
                stripe_event::NewEvent {
                    id: e.id,
                    event_type: e.event_type,
                    payload: e.payload,
                    source: stripe_event::FROM_SWEEP,
                }
            })
            .collect();
        // Left for the feeder (no `enqueued_at`), which hands them out like deliveries.
        report.new += stripe_event::insert_new(&ctx.db, &events, false)
            .await?
            .len();
        if !page.has_more || page.last_id.is_none() {
            break;
        }
        after = page.last_id;
    }
    stripe_cursor::finish_run(&ctx.db, stripe_cursor::EVENTS, started, Some(newest)).await?;
    Ok(report)
}

/// Runs the link sweep if it is due (or was asked for) and this process gets its turn.
pub(crate) async fn links_if_due(
    ctx: &JobContext,
    queue: &JobQueue,
    interval: Duration,
) -> anyhow::Result<Option<LinkSweep>> {
    if !due(ctx, stripe_cursor::LINKS, interval).await? {
        return Ok(None);
    }
    let Some(lock) = queue
        .lock_sweep(stripe_cursor::LINKS, SWEEP_LOCK_TTL)
        .await?
    else {
        return Ok(None);
    };
    let result = match due(ctx, stripe_cursor::LINKS, interval).await {
        Ok(true) => sweep_links(ctx, queue, interval).await.map(Some),
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    if result.is_err() {
        retry_later(ctx, stripe_cursor::LINKS).await;
    }
    lock.release().await;
    if let Ok(Some(report)) = &result {
        metrics::counter!("paylink_stripe_sweep_orphan_links_total")
            .increment(report.orphans as u64);
        if report.orphans > 0 {
            tracing::warn!(
                ?report,
                "the link sweep found active links no order keeps; switching them off"
            );
        }
    }
    result
}

/// Lists the active links at Stripe and switches off the orphans among ours.
pub(crate) async fn sweep_links(
    ctx: &JobContext,
    queue: &JobQueue,
    interval: Duration,
) -> anyhow::Result<LinkSweep> {
    let started = Utc::now();
    let mut report = LinkSweep::default();
    let row = stripe_cursor::get(&ctx.db, stripe_cursor::LINKS).await?;
    // Never run, and no early run due yet (one may have been asked for since this process
    // found the sweep due): only place the marker.
    let first_look = row.as_ref().is_none_or(|row| {
        row.last_run_at.is_none() && row.requested_at.is_none_or(|at| at > started)
    });
    // A run asked for after an unknown outcome looks for links made since: Stripe lists
    // newest first, so it stops at the first link paylink recorded well before that. A run
    // due by its interval reads everything.
    let early_since = row.as_ref().and_then(|row| {
        let by_interval = row.last_run_at.is_some_and(|last| {
            started.signed_duration_since(last)
                >= chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX)
        });
        row.requested_at
            .filter(|_| !by_interval)
            .map(|at| at - EARLY_RUN_LOOKBACK)
    });
    if first_look || order::earliest_created(&ctx.db).await?.is_none() {
        // A fresh start lists nothing: the first sweep comes one interval later (or soon
        // after a create whose outcome was unknown). With no order there is no link of ours.
        stripe_cursor::finish_run(&ctx.db, stripe_cursor::LINKS, started, None).await?;
        return Ok(report);
    }
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .stripe
            .list_payment_links(Some(true), after.as_deref())
            .await?;
        report.listed += page.items.len();
        let mut reached_known_old = false;
        for link in page.items.into_iter().filter(|l| l.active) {
            if let Some(since) = early_since
                && payment_link::find(&ctx.db, &link.id)
                    .await?
                    .is_some_and(|known| known.created_at < since)
            {
                reached_known_old = true;
                break;
            }
            let Some(order_id) = &link.order_id else {
                continue; // not one of ours: another integration shares the account
            };
            let Some(owner) = order::find(&ctx.db, order_id).await? else {
                continue;
            };
            match verdict(ctx, &owner, &link.id).await? {
                Verdict::Keep => {}
                Verdict::Later => report.deferred += 1,
                Verdict::SwitchOff => {
                    report.orphans += 1;
                    if owner.status == order::Status::Pending {
                        // Its current key may replay this very link (a create that timed out
                        // after Stripe made it): an operator's Retry must not store it once it
                        // is switched off. A fresh key mints a fresh link.
                        order::bump_retry_epoch(&ctx.db, &owner.id, owner.retry_epoch).await?;
                    }
                    switch_off(ctx, queue, &owner, link).await?;
                }
            }
        }
        if reached_known_old || !page.has_more || page.last_id.is_none() {
            break;
        }
        after = page.last_id;
    }
    if report.deferred > 0 {
        let at = Utc::now() + RECHECK_MINTING;
        stripe_cursor::request_run(&ctx.db, stripe_cursor::LINKS, at).await?;
    }
    stripe_cursor::finish_run(&ctx.db, stripe_cursor::LINKS, started, None).await?;
    Ok(report)
}

enum Verdict {
    Keep,
    Later,
    SwitchOff,
}

/// Whether `owner` may keep `link_id` open. A pending order keeps its stored active link; a
/// paid order keeps it in a category that stays open. An order still minting may be about to
/// store this very link: look again later.
async fn verdict(ctx: &JobContext, owner: &order::Model, link_id: &str) -> anyhow::Result<Verdict> {
    let holds = owner.stripe_payment_link_id.as_deref() == Some(link_id);
    Ok(match owner.status {
        order::Status::Pending if owner.link_state == order::LinkState::Minting => Verdict::Later,
        order::Status::Pending if holds && owner.link_state == order::LinkState::Active => {
            Verdict::Keep
        }
        order::Status::Paid if holds => {
            let category = product::find(&ctx.db, &owner.product_id)
                .await?
                .map(|p| p.category);
            if category.is_some_and(|c| ctx.policy.deactivates_on_paid(&c)) {
                Verdict::SwitchOff
            } else {
                Verdict::Keep
            }
        }
        _ => Verdict::SwitchOff,
    })
}

async fn switch_off(
    ctx: &JobContext,
    queue: &JobQueue,
    owner: &order::Model,
    link: crate::stripe::ListedLink,
) -> anyhow::Result<()> {
    payment_link::record(
        &ctx.db,
        owner,
        payment_link::Origin::Found,
        link.generation,
        &link.id,
        &link.url,
    )
    .await?;
    tracing::warn!(order_id = %owner.id, link_id = %link.id, "switching off a link the order does not keep");
    deactivate_link::hand_off(&ctx.db, queue, &owner.id, &[link.id]).await?;
    Ok(())
}
