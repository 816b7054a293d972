//! Moving waiting work from the database into the queue, up to the room left in a window: the
//! feeder does it every pass, the reconciler for work the queue lost. Enqueue, then stamp: a
//! process killed in between leaves the rows waiting, not lost.

use sea_orm::DatabaseConnection;

use crate::jobs::mint_link::MintLink;
use crate::jobs::send_email::SendEmail;
use crate::jobs::stripe_event::StripeEvent;
use crate::mailer::Mailer;
use crate::queue::{Job, JobQueue};
use crate::store::{email, order, stripe_event};

/// What a top-up did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopUp {
    /// Jobs enqueued.
    pub enqueued: usize,
    /// The window was full: work may wait behind it.
    pub full: bool,
}

impl TopUp {
    pub(crate) fn busy(self) -> bool {
        self.enqueued > 0 || self.full
    }

    fn full() -> Self {
        Self {
            enqueued: 0,
            full: true,
        }
    }

    fn enqueued(enqueued: usize) -> Self {
        Self {
            enqueued,
            full: false,
        }
    }
}

/// Room left in the window for jobs of type `J`.
async fn room<J: Job>(queue: &JobQueue, window: u64) -> anyhow::Result<u64> {
    Ok(window.saturating_sub(queue.due::<J>().await?))
}

/// Enqueues mint jobs for orders waiting in the backlog (and, given `stale_before`, for orders
/// whose job was enqueued before it and so counts as lost).
pub(crate) async fn top_up_orders(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
    minting_paused: bool,
) -> anyhow::Result<TopUp> {
    if minting_paused {
        // Every mint would meet the same refusal: the orders wait (crate::stripe_key).
        return Ok(TopUp::default());
    }
    let room = room::<MintLink>(queue, window).await?;
    if room == 0 {
        return Ok(TopUp::full());
    }
    // Enqueue, then stamp: killed in between, the orders stay in the backlog for the next
    // pass (a duplicate job is harmless); stamped first, they would be lost for `stale_after`.
    let waiting = order::backlog(db, room, stale_before).await?;
    let ids: Vec<String> = waiting.iter().map(|o| o.id.clone()).collect();
    let jobs: Vec<MintLink> = waiting
        .into_iter()
        .map(|o| MintLink {
            order_id: o.id.into(),
            generation: o.link_generation,
        })
        .collect();
    let count = jobs.len();
    if count == 0 {
        return Ok(TopUp::default());
    }
    queue.enqueue_many(jobs).await?;
    order::stamp_enqueued(db, ids, stale_before).await?;
    Ok(TopUp::enqueued(count))
}

/// Enqueues stored Stripe events waiting for room in the `stripe_event` queue (a burst of
/// deliveries larger than the window), and, given `stale_before`, events whose job was lost.
pub(crate) async fn top_up_events(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<TopUp> {
    let room = room::<StripeEvent>(queue, window).await?;
    if room == 0 {
        return Ok(TopUp::full());
    }
    // Enqueue, then stamp, as for orders.
    let ids = stripe_event::backlog_ids(db, room, stale_before).await?;
    let count = ids.len();
    if count == 0 {
        return Ok(TopUp::default());
    }
    queue
        .enqueue_many(
            ids.iter()
                .map(|event_id| StripeEvent {
                    event_id: event_id.as_str().into(),
                })
                .collect(),
        )
        .await?;
    stripe_event::stamp_enqueued(db, &ids, stale_before).await?;
    Ok(TopUp::enqueued(count))
}

/// Writes the pay-link mails now due (orders that asked for one whose link is active) and
/// enqueues mails waiting for a job: queued, deferred past their wait, and (given
/// `stale_before`) mails whose job was lost. Nothing while sending is off.
pub(crate) async fn top_up_emails(
    db: &DatabaseConnection,
    queue: &JobQueue,
    window: u64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
    mailer: Option<&Mailer>,
) -> anyhow::Result<TopUp> {
    let Some(mailer) = mailer else {
        return Ok(TopUp::default());
    };
    let written = email::claim_due_pay_link_mails(db, window, || mailer.message_id()).await?;
    let room = room::<SendEmail>(queue, window).await?;
    if room == 0 {
        return Ok(TopUp::full());
    }
    // Enqueue, then stamp, as for orders.
    let ids = email::backlog(db, room, stale_before).await?;
    let count = ids.len();
    if count == 0 {
        return Ok(TopUp {
            enqueued: 0,
            full: written > 0,
        });
    }
    queue
        .enqueue_many(
            ids.iter()
                .map(|email_id| SendEmail {
                    email_id: email_id.clone(),
                })
                .collect(),
        )
        .await?;
    email::stamp_enqueued(db, &ids, stale_before).await?;
    Ok(TopUp::enqueued(count))
}
