//! `stripe_event`: apply one stored Stripe event. Every effect is a
//! conditional update, so replays, duplicates and out-of-order arrival change nothing twice.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use serde::{Deserialize, Serialize};

use crate::context::JobContext;
use crate::jobs::deactivate_link::DeactivateLink;
use crate::jobs::mint_link::MintLink;
use crate::queue::JobQueue;
use crate::store::{order, product, stripe_event};

/// Process the stored event `event_id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StripeEvent {
    pub event_id: String,
}

impl crate::queue::Job for StripeEvent {
    const QUEUE: &'static str = "stripe_event";
}

/// The part of an event paylink reads.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// The part of a Checkout Session paylink reads.
#[derive(Debug, Default)]
struct Session {
    id: Option<String>,
    payment_link: Option<String>,
    payment_intent: Option<String>,
    customer: Option<String>,
    payment_status: Option<String>,
    metadata: std::collections::HashMap<String, String>,
}

impl Session {
    /// Reads each field on its own. Stripe's schema makes most of them nullable (`metadata`
    /// among them) and lets `customer`, `payment_intent` and `payment_link` arrive expanded as
    /// objects; read as one struct, a single field of another shape made the whole session
    /// unreadable, and a payment with `metadata: null` was recorded against no order.
    fn read(object: &serde_json::Value) -> Self {
        use serde_json::Value;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let id_of = |key: &str| match object.get(key) {
            Some(Value::Object(expanded)) => expanded
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => text(key),
        };
        let metadata = object
            .get("metadata")
            .and_then(Value::as_object)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: text("id"),
            payment_link: id_of("payment_link"),
            payment_intent: id_of("payment_intent"),
            customer: id_of("customer"),
            payment_status: text("payment_status"),
            metadata,
        }
    }
}

/// How an event ended; stored on the event row for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Paid,
    AlreadyPaid,
    AwaitingAsyncPayment,
    PaymentFailedLinkReused,
    PaymentFailedNewLink,
    PaymentFailedOrderNotPending,
    UnknownOrder,
    Ignored,
    Unreadable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::AlreadyPaid => "already_paid",
            Outcome::AwaitingAsyncPayment => "awaiting_async_payment",
            Outcome::PaymentFailedLinkReused => "payment_failed_link_still_open",
            Outcome::PaymentFailedNewLink => "payment_failed_new_link",
            Outcome::PaymentFailedOrderNotPending => "payment_failed_order_not_pending",
            Outcome::UnknownOrder => "unknown_order",
            Outcome::Ignored => "ignored",
            Outcome::Unreadable => "unreadable",
        }
    }
}

/// What the stripe_event handler needs beyond the shared context: the queue, to hand on work.
#[derive(Clone, Debug)]
pub struct EventDeps {
    pub queue: JobQueue,
}

pub async fn stripe_event(
    job: StripeEvent,
    ctx: Data<Arc<JobContext>>,
    deps: Data<EventDeps>,
) -> Result<(), BoxDynError> {
    super::counted("stripe_event", handle(job, &ctx, &deps).await)
}

async fn handle(job: StripeEvent, ctx: &JobContext, deps: &EventDeps) -> Result<(), BoxDynError> {
    let Some(event) = stripe_event::find(&ctx.db, &job.event_id).await? else {
        tracing::warn!(event_id = %job.event_id, "stripe_event job for an event not stored");
        return Ok(());
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let outcome = match process(ctx, &deps.queue, &event.payload).await {
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
    stripe_event::mark_processed(&ctx.db, &job.event_id, outcome.as_str(), None).await?;
    tracing::info!(event_id = %job.event_id, event_type = %event.event_type, outcome = outcome.as_str(), "stripe event processed");
    Ok(())
}

/// Applies the event. Errors (database, Stripe unreachable) leave it unprocessed for a retry.
pub async fn process(ctx: &JobContext, queue: &JobQueue, payload: &str) -> anyhow::Result<Outcome> {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        return Ok(Outcome::Unreadable);
    };
    let session = || Session::read(&envelope.data.object);
    match envelope.event_type.as_str() {
        "checkout.session.completed" => {
            let session = session();
            match session.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => mark_paid(ctx, queue, &session).await,
                _ => Ok(Outcome::AwaitingAsyncPayment),
            }
        }
        "checkout.session.async_payment_succeeded" => mark_paid(ctx, queue, &session()).await,
        "checkout.session.async_payment_failed" => payment_failed(ctx, queue, &session()).await,
        _ => Ok(Outcome::Ignored),
    }
}

/// The order a session paid for: by our metadata, else by the Payment Link it came from.
async fn find_order(ctx: &JobContext, session: &Session) -> anyhow::Result<Option<order::Model>> {
    if let Some(id) = session.metadata.get("order_id")
        && let Some(found) = order::find(&ctx.db, id).await?
    {
        return Ok(Some(found));
    }
    match &session.payment_link {
        Some(link) => Ok(order::find_by_payment_link(&ctx.db, link).await?),
        None => Ok(None),
    }
}

async fn mark_paid(
    ctx: &JobContext,
    queue: &JobQueue,
    session: &Session,
) -> anyhow::Result<Outcome> {
    let Some(found) = find_order(ctx, session).await? else {
        return Ok(Outcome::UnknownOrder);
    };
    let payment = order::Payment {
        checkout_session_id: session.id.clone(),
        payment_intent_id: session.payment_intent.clone(),
        customer_id: session.customer.clone(),
    };
    if !order::mark_paid(&ctx.db, &found.id, &payment).await? {
        return Ok(Outcome::AlreadyPaid);
    }
    let category = product::find(&ctx.db, &found.product_id)
        .await?
        .map(|p| p.category);
    let deactivates = category.is_some_and(|c| ctx.policy.deactivates_on_paid(&c));
    // Close the order's stored link, and the link that took the payment if it is another one
    // (an older generation's): a paid order keeps no link that can take money again.
    let mut links: Vec<String> = found.stripe_payment_link_id.iter().cloned().collect();
    if let Some(paid_on) = &session.payment_link
        && !links.contains(paid_on)
    {
        links.push(paid_on.clone());
    }
    if deactivates {
        for link_id in links {
            let job = DeactivateLink {
                order_id: found.id.clone(),
                link_id,
            };
            if let Err(e) = queue.enqueue(job).await {
                // Paid is recorded; the reconciler finds paid orders whose link is still active.
                tracing::error!(order_id = %found.id, error = %format!("{e:#}"), "paid, but deactivate_link not enqueued");
            }
        }
    }
    Ok(Outcome::Paid)
}

/// A delayed payment failed: the order stays pending. If its link can take no more payments
/// (its one completed session is used up, or it was switched off), the order moves on to a
/// fresh link so that the payer's unchanged pay URL works again.
async fn payment_failed(
    ctx: &JobContext,
    queue: &JobQueue,
    session: &Session,
) -> anyhow::Result<Outcome> {
    let Some(found) = find_order(ctx, session).await? else {
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
        queue
            .enqueue(MintLink {
                order_id: found.id.clone(),
                generation: found.link_generation + 1,
            })
            .await?;
        // The exhausted link stays switched off for good.
        queue
            .enqueue(DeactivateLink {
                order_id: found.id.clone(),
                link_id,
            })
            .await?;
    }
    Ok(Outcome::PaymentFailedNewLink)
}
