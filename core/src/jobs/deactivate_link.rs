//! `deactivate_link`: switch off a Payment Link that must take no more money (a paid order's,
//! a cancelled order's, an old generation's).

use apalis::prelude::BoxDynError;
use serde::{Deserialize, Serialize};

use crate::context::JobContext;
use crate::domain::{OrderId, PaymentLinkId};
use crate::queue::JobQueue;
use crate::store::{order, payment_link};

/// Switch `link_id` off; if it is still the link stored on `order_id`, record it as deactivated.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeactivateLink {
    pub order_id: OrderId,
    pub link_id: PaymentLinkId,
}

impl crate::queue::Job for DeactivateLink {
    const QUEUE: &'static str = "deactivate_link";
}

/// Hands `links` of `order_id` to `deactivate_link` and notes them as enqueued, so the
/// reconciler leaves them to the jobs. When the queue refuses, nothing is lost: the links stay
/// active in `payment_links`, where the reconciler finds them. Returns whether the jobs went on
/// the queue; a database error after they did is returned as such.
pub(crate) async fn hand_off(
    db: &sea_orm::DatabaseConnection,
    queue: &crate::queue::JobQueue,
    order_id: &str,
    links: &[String],
) -> Result<bool, sea_orm::DbErr> {
    let jobs: Vec<DeactivateLink> = links
        .iter()
        .map(|link_id| DeactivateLink {
            order_id: order_id.into(),
            link_id: link_id.as_str().into(),
        })
        .collect();
    match queue.enqueue_many(jobs).await {
        Ok(()) => {
            payment_link::note_enqueued(db, links).await?;
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(order_id, error = %format!("{e:#}"), "deactivate_link not enqueued; the reconciler will switch the link off");
            Ok(false)
        }
    }
}

/// Transient Stripe errors are retried here with backoff; when the attempts run out, or Stripe
/// refuses, the error is kept on the order and the job fails so that the queue (and later the
/// reconciler) tries again.
impl super::BackgroundJob for DeactivateLink {
    async fn run(self, ctx: &JobContext, _queue: &JobQueue) -> Result<(), BoxDynError> {
        deactivate(self, ctx).await
    }
}

async fn deactivate(job: DeactivateLink, ctx: &JobContext) -> Result<(), BoxDynError> {
    if order_keeps(ctx, &job).await? {
        tracing::info!(order_id = %job.order_id, link_id = %job.link_id, "not deactivated: the pending order keeps (or is storing) this link");
        return Ok(());
    }
    let mut last_error = String::new();
    for attempt in 0..ctx.retry.max_attempts {
        ctx.retry.pause_before(attempt).await;
        match ctx.stripe.deactivate_payment_link(&job.link_id).await {
            Ok(()) => {
                order::mark_link_deactivated(&ctx.db, &job.order_id, &job.link_id).await?;
                payment_link::mark_deactivated(&ctx.db, &job.link_id).await?;
                tracing::info!(order_id = %job.order_id, link_id = %job.link_id, "link deactivated");
                return Ok(());
            }
            Err(failure) => {
                last_error = failure.to_string();
                tracing::warn!(order_id = %job.order_id, link_id = %job.link_id, attempt, error = %last_error, "deactivation failed");
                // A refused key refuses every try: record it for the fleet, and leave the link
                // to the reconciler's sweep once the key is taken.
                if !failure.is_retryable() || crate::stripe_key::note_failure(ctx, &failure).await?
                {
                    break;
                }
            }
        }
    }
    let message = format!("deactivating {} failed: {last_error}", job.link_id);
    order::note_error(&ctx.db, &job.order_id, &message).await?;
    Err(message.into())
}

/// Whether the pending order keeps the link after all: it holds it as its live link (a link
/// found at Stripe as an orphan that the order has stored since), or it is still minting the
/// generation the link was made for and may be about to store it.
async fn order_keeps(ctx: &JobContext, job: &DeactivateLink) -> Result<bool, sea_orm::DbErr> {
    let Some(owner) = order::find(&ctx.db, &job.order_id).await? else {
        return Ok(false);
    };
    if owner.status != order::Status::Pending {
        return Ok(false);
    }
    match owner.link_state {
        order::LinkState::Active => {
            Ok(owner.stripe_payment_link_id.as_deref() == Some(job.link_id.as_str()))
        }
        order::LinkState::Minting => Ok(payment_link::find(&ctx.db, &job.link_id)
            .await?
            .is_some_and(|l| l.generation == Some(owner.link_generation))),
        order::LinkState::Failed | order::LinkState::Deactivated => Ok(false),
    }
}
