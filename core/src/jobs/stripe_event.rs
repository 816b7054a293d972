//! `stripe_event`: apply one stored Stripe event. Every effect is a
//! conditional update, so replays, duplicates and out-of-order arrival change nothing twice.

use apalis::prelude::BoxDynError;
use sea_orm::ActiveEnum as _;
use serde::{Deserialize, Serialize};

use crate::context::JobContext;
use crate::domain::EventId;
use crate::jobs::deactivate_link;
use crate::jobs::mint_link;
use crate::queue::JobQueue;
use crate::settle::{self, Settled};
use crate::store::order;
use crate::store::payment::LearnedVia;
use crate::store::stripe_event::{self, Outcome};
use crate::stripe::CheckoutSession;

/// Process the stored event `event_id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StripeEvent {
    pub event_id: EventId,
}

impl crate::queue::Job for StripeEvent {
    const QUEUE: &'static str = "stripe_event";
}

/// The part of an event paylink reads.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    /// Stripe's mode for the event (required in Stripe's description of an event).
    livemode: Option<bool>,
    data: EventData,
}

impl Envelope {
    /// The mode the event, or else its object, says it is from.
    fn live(&self) -> Option<bool> {
        self.livemode.or_else(|| {
            self.data
                .object
                .get("livemode")
                .and_then(serde_json::Value::as_bool)
        })
    }
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Applies the event; the queue hands on the work it causes (deactivations, a new mint).
impl super::BackgroundJob for StripeEvent {
    async fn run(self, ctx: &JobContext, queue: &JobQueue) -> Result<(), BoxDynError> {
        handle(self, ctx, queue).await
    }
}

async fn handle(job: StripeEvent, ctx: &JobContext, queue: &JobQueue) -> Result<(), BoxDynError> {
    let Some(event) = stripe_event::find(&ctx.db, &job.event_id).await? else {
        tracing::warn!(event_id = %job.event_id, "stripe_event job for an event not stored");
        return Ok(());
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let via = if event.source == stripe_event::FROM_SWEEP {
        LearnedVia::EventSweep
    } else {
        LearnedVia::Webhook
    };
    let outcome = match process(ctx, queue, &event.payload, via).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let message = format!("{e:#}");
            // Kept for the operator; the event stays unprocessed and is tried again.
            if let Err(note) = stripe_event::note_error(&ctx.db, &job.event_id, &message).await {
                tracing::warn!(event_id = %job.event_id, error = %note, "could not record the event's error");
            }
            return Err(format!("stripe_event {}: {message}", job.event_id).into());
        }
    };
    let why = (outcome == Outcome::WrongMode).then(|| {
        let ours = crate::stripe::mode_name(ctx.stripe.live());
        let theirs = crate::stripe::mode_name(!ctx.stripe.live());
        format!(
            "a {theirs}-mode event, and paylink's key is a {ours}-mode key: it settled nothing. \
             PAYLINK__STRIPE__WEBHOOK_SECRETS holds the signing secret of a {theirs}-mode \
             endpoint; keep only the {ours}-mode endpoint's"
        )
    });
    stripe_event::mark_processed(&ctx.db, &job.event_id, outcome, why.as_deref()).await?;
    tracing::info!(event_id = %job.event_id, event_type = %event.event_type, outcome = outcome.to_value(), "stripe event processed");
    Ok(())
}

/// Applies the event, learned `via` a delivery or the sweep. Errors (database, Stripe
/// unreachable) leave it unprocessed for a retry.
pub async fn process(
    ctx: &JobContext,
    queue: &JobQueue,
    payload: &str,
    via: LearnedVia,
) -> anyhow::Result<Outcome> {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        return Ok(Outcome::Unreadable);
    };
    // A test card's payment must never settle a live order, nor the reverse.
    if envelope
        .live()
        .is_some_and(|live| live != ctx.stripe.live())
    {
        return Ok(Outcome::WrongMode);
    }
    if envelope.event_type.starts_with("checkout.session.") && !envelope.data.object.is_object() {
        // Kept with this outcome and listed for the operator, never guessed at.
        return Ok(Outcome::Unreadable);
    }
    let session = || CheckoutSession::read(&envelope.data.object);
    match envelope.event_type.as_str() {
        "checkout.session.completed" => {
            let session = session();
            match session.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => mark_paid(ctx, queue, &session, via).await,
                _ => Ok(Outcome::AwaitingAsyncPayment),
            }
        }
        "checkout.session.async_payment_succeeded" => mark_paid(ctx, queue, &session(), via).await,
        "checkout.session.async_payment_failed" => payment_failed(ctx, queue, &session()).await,
        _ => Ok(Outcome::Ignored),
    }
}

async fn mark_paid(
    ctx: &JobContext,
    queue: &JobQueue,
    session: &CheckoutSession,
    via: LearnedVia,
) -> anyhow::Result<Outcome> {
    if session.id.is_none() {
        // Without its id a payment cannot be recorded once: keep it for the operator.
        return Ok(Outcome::Unreadable);
    }
    Ok(match settle::settle(ctx, queue, session, via).await? {
        Settled::Paid => Outcome::Paid,
        Settled::Flagged(issue) => Outcome::from(issue),
        Settled::AlreadyRecorded => Outcome::AlreadyPaid,
        Settled::UnknownOrder => Outcome::UnknownOrder,
    })
}

/// A delayed payment failed: the order stays pending. If its link can take no more payments
/// (its one completed session is used up, or it was switched off), the order moves on to a
/// fresh link so that the payer's unchanged pay URL works again.
async fn payment_failed(
    ctx: &JobContext,
    queue: &JobQueue,
    session: &CheckoutSession,
) -> anyhow::Result<Outcome> {
    let Some(found) = settle::find_order(ctx, session).await? else {
        return Ok(Outcome::UnknownOrder);
    };
    if found.status != order::Status::Pending {
        return Ok(Outcome::PaymentFailedOrderNotPending);
    }
    let Some(link_id) = found.stripe_payment_link_id.clone() else {
        // Already moved on to a new generation (a duplicate event): its mint is under way.
        return Ok(Outcome::PaymentFailedNewLink);
    };
    if ctx.stripe.payment_link_open(&link_id).await? {
        return Ok(Outcome::PaymentFailedLinkReused);
    }
    if order::start_new_generation(&ctx.db, &found.id, found.link_generation, None).await? {
        mint_link::hand_off(&ctx.db, queue, &found.id, found.link_generation + 1).await?;
        // The exhausted link stays switched off for good.
        deactivate_link::hand_off(&ctx.db, queue, &found.id, &[link_id]).await?;
    }
    Ok(Outcome::PaymentFailedNewLink)
}
