//! Settling an order from a paid Checkout Session: one piece of code for every way paylink
//! learns of a payment (a webhook, the sweep of Stripe's events, the payer's return page), so
//! that they agree and the first one counts.
//!
//! The payment is stored once per session (its id is the key), in the same transaction as the
//! order's change. What does not match the order is recorded and flagged, never silently
//! accepted: an amount or currency other than the order's, a payment on a cancelled order, a
//! second session paying an order already paid.

use crate::context::JobContext;
use crate::jobs::deactivate_link;
use crate::outbound::{EventType, outbox};
use crate::queue::JobQueue;
use crate::store::payment::{self, Issue, LearnedVia};
use crate::store::{order, payment_link, product};
use crate::stripe::CheckoutSession;

/// What settling a paid session came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The order is paid by this session, as it should be.
    Paid,
    /// The session was recorded and flagged (the order is paid when the issue is an amount
    /// mismatch; otherwise it keeps its state).
    Flagged(Issue),
    /// This session was recorded before (another way of learning got there first).
    AlreadyRecorded,
    /// The session names no order of ours.
    UnknownOrder,
}

/// The order a session paid for: by our metadata, else by the Payment Link it came through
/// (any generation's).
pub async fn find_order(
    ctx: &JobContext,
    session: &CheckoutSession,
) -> anyhow::Result<Option<order::Model>> {
    if let Some(id) = session.order_id()
        && let Some(found) = order::find(&ctx.db, id).await?
    {
        return Ok(Some(found));
    }
    match &session.payment_link {
        Some(link) => Ok(payment_link::order_of(&ctx.db, link).await?),
        None => Ok(None),
    }
}

/// Records the paid `session` against its order, learned `via`. Idempotent per session.
pub async fn settle(
    ctx: &JobContext,
    queue: &JobQueue,
    session: &CheckoutSession,
    via: LearnedVia,
) -> anyhow::Result<Settled> {
    let (Some(session_id), Some(found)) = (&session.id, find_order(ctx, session).await?) else {
        return Ok(Settled::UnknownOrder);
    };
    let mismatch = session
        .amount_total
        .is_some_and(|a| a != found.amount_cents)
        || session
            .currency
            .as_deref()
            .is_some_and(|c| c != found.currency);
    let mut paid = order::Payment {
        checkout_session_id: Some(session_id.clone()),
        payment_intent_id: session.payment_intent.clone(),
        customer_id: session.customer.clone(),
        amount_cents: session.amount_total,
        currency: session.currency.clone(),
        issue: mismatch.then_some(Issue::AmountMismatch),
    };
    let txn = crate::store::begin_write(&ctx.db).await?;
    let recorded = payment::record(
        &txn,
        payment::Model {
            checkout_session_id: session_id.clone(),
            order_id: found.id.clone(),
            payment_link_id: session.payment_link.clone(),
            amount_cents: session.amount_total,
            currency: session.currency.clone(),
            payment_intent_id: session.payment_intent.clone(),
            customer_id: session.customer.clone(),
            learned_via: via,
            issue: paid.issue,
            recorded_at: chrono::Utc::now(),
        },
    )
    .await?;
    if !recorded {
        txn.rollback().await?;
        return Ok(Settled::AlreadyRecorded);
    }
    let settled = if order::mark_paid(&txn, &found.id, &paid).await? {
        match paid.issue {
            Some(issue) => Settled::Flagged(issue),
            None => Settled::Paid,
        }
    } else {
        // Not pending: read it again (another session may have paid it a moment ago).
        let now = order::find(&txn, &found.id).await?;
        let issue = match now.map(|o| o.status) {
            Some(order::Status::Cancelled) => Issue::PaidAfterCancel,
            _ => Issue::PaidTwice,
        };
        paid.issue = Some(issue);
        payment::set_issue(&txn, session_id, issue).await?;
        order::flag_payment_issue(&txn, &found.id, issue, &paid).await?;
        Settled::Flagged(issue)
    };
    outbox::order_events(&txn, &ctx.public_base_url, announced(settled), &found.id).await?;
    txn.commit().await?;
    if let Settled::Flagged(issue) = settled {
        metrics::counter!("paylink_payment_issues_total", "issue" => issue.as_str()).increment(1);
        tracing::warn!(order_id = %found.id, checkout_session = %session_id, issue = issue.as_str(), amount_total = ?session.amount_total, currency = ?session.currency, "a payment needs attention");
    }
    metrics::counter!("paylink_payments_recorded_total", "via" => via_label(via)).increment(1);
    close_links(ctx, queue, &found, session, settled).await?;
    Ok(settled)
}

/// The events a settlement announces: a payment that settled the order is `order.paid` (with
/// `order.payment_issue` too when its amount was wrong); one that could not is an issue only.
fn announced(settled: Settled) -> &'static [EventType] {
    match settled {
        Settled::Paid => &[EventType::Paid],
        Settled::Flagged(Issue::AmountMismatch) => &[EventType::Paid, EventType::PaymentIssue],
        Settled::Flagged(_) => &[EventType::PaymentIssue],
        _ => &[],
    }
}

fn via_label(via: LearnedVia) -> &'static str {
    match via {
        LearnedVia::Webhook => "webhook",
        LearnedVia::EventSweep => "event_sweep",
        LearnedVia::ReturnPage => "return_page",
    }
}

/// Switches off what must take no more money: for a category closed once paid, the order's
/// stored link and the link that took the payment; for a cancelled order, the paying link.
async fn close_links(
    ctx: &JobContext,
    queue: &JobQueue,
    found: &order::Model,
    session: &CheckoutSession,
    settled: Settled,
) -> anyhow::Result<()> {
    let category = product::find(&ctx.db, &found.product_id)
        .await?
        .map(|p| p.category);
    let closes = category.is_some_and(|c| ctx.policy.deactivates_on_paid(&c))
        || settled == Settled::Flagged(Issue::PaidAfterCancel);
    if !closes {
        return Ok(());
    }
    let mut links: Vec<String> = found.stripe_payment_link_id.iter().cloned().collect();
    if let Some(paid_on) = &session.payment_link
        && !links.contains(paid_on)
    {
        links.push(paid_on.clone());
    }
    // Paid is recorded whatever the queue says; a refused hand-off is the reconciler's.
    if deactivate_link::hand_off(&ctx.db, queue, &found.id, &links).await? {
        order::note_enqueued(&ctx.db, &found.id).await?;
    }
    Ok(())
}
