//! The reconciler: the database says what must still happen; the queue may have forgotten it
//! (Redis flushed or failed over, a job dead after its retries, a process killed between the
//! insert and the enqueue). A periodic sweep re-enqueues:
//!
//! - orders still minting whose mint job was enqueued more than `stale_after` ago;
//! - stored Stripe events still unprocessed whose job was enqueued that long ago;
//! - paid orders in deactivate-on-paid categories, and cancelled orders, whose link is still
//!   active that long after (their `deactivate_link` was lost or gave up);
//! - links in `payment_links`, of any generation, still active that long after they must not
//!   be (an old amount's link, an orphan found at Stripe).
//!
//! Work also counts as lost when it was enqueued before the Redis queue's current generation
//! began (Redis lost its data since): the feeder sweeps at once when it finds that.
//!
//! Every job is idempotent, so a job enqueued twice costs a little work and nothing else. The
//! sweep runs under the feeder's lock, so one process sweeps at a time, and each row is stamped
//! when it is taken, so a concurrent sweep (the embedded queue has no lock) cannot take it too.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::jobs::deactivate_link::DeactivateLink;
use crate::queue::JobQueue;
use crate::store::{order, payment_link};
use crate::top_up::{top_up_emails, top_up_events, top_up_orders};

/// When work counts as lost, and how often to look.
#[derive(Clone, Debug)]
pub struct ReconcileSettings {
    /// How often each process runs the sweep (one at a time wins the lock).
    pub interval: Duration,
    /// Work enqueued (or an order paid) this long ago and not done counts as lost.
    pub stale_after: Duration,
    /// Categories whose paid orders must have no active link.
    pub closing_categories: Vec<String>,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            stale_after: Duration::from_secs(600),
            closing_categories: vec!["monthly".into(), "tournament".into()],
        }
    }
}

/// What one sweep re-enqueued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub mint_jobs: usize,
    pub event_jobs: usize,
    pub deactivate_jobs: usize,
    /// Mails whose `send_email` job was lost.
    pub mail_jobs: usize,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One sweep, if this process gets the lock (`None` when another process holds it), taking at
/// most `window` (the feeder's) of each kind of lost work. With `minting_paused` (Stripe
/// refuses the key, crate::stripe_key), no mint job is enqueued.
pub async fn sweep(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    settings: &ReconcileSettings,
    minting_paused: bool,
    mailer: Option<&crate::mailer::Mailer>,
) -> anyhow::Result<Option<Report>> {
    let Some(lock) = queue.lock_feeder().await? else {
        return Ok(None);
    };
    let result = sweep_locked(db, queue, window, settings, minting_paused, mailer).await;
    lock.release().await;
    result.map(Some)
}

async fn sweep_locked(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    reconcile: &ReconcileSettings,
    minting_paused: bool,
    mailer: Option<&crate::mailer::Mailer>,
) -> anyhow::Result<Report> {
    let stale_before = chrono::Utc::now()
        - chrono::Duration::from_std(reconcile.stale_after).unwrap_or(chrono::Duration::MAX);
    // Whatever was enqueued before the queue's generation began is gone from Redis: lost now,
    // not only once `stale_after` has passed.
    let stale_before = match queue.generation().await? {
        Some(generation) => stale_before.max(generation.started_at),
        None => stale_before,
    };
    let mint_jobs = top_up_orders(db, queue, window, Some(stale_before), minting_paused)
        .await?
        .enqueued;
    let event_jobs = top_up_events(db, queue, window, Some(stale_before))
        .await?
        .enqueued;
    let mail_jobs = top_up_emails(db, queue, window, Some(stale_before), mailer)
        .await?
        .enqueued;
    let unclosed =
        order::claim_unclosed(db, &reconcile.closing_categories, window, stale_before).await?;
    let deactivations: Vec<DeactivateLink> = unclosed
        .into_iter()
        .filter_map(|o| {
            o.stripe_payment_link_id.map(|link_id| DeactivateLink {
                order_id: o.id.into(),
                link_id: link_id.into(),
            })
        })
        .collect();
    // Links of every generation that must not take money (an old amount's link the intake
    // could not hand to the queue, an orphan whose job was lost).
    let stray = payment_link::claim_stray(db, window, stale_before).await?;
    let mut deactivations = deactivations;
    deactivations.extend(stray.into_iter().map(|l| DeactivateLink {
        order_id: l.order_id.into(),
        link_id: l.id.into(),
    }));
    let deactivate_jobs = deactivations.len();
    queue.enqueue_many(deactivations).await?;
    Ok(Report {
        mint_jobs,
        event_jobs,
        deactivate_jobs,
        mail_jobs,
    })
}
