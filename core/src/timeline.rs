//! An order's story for the operator, in time order and plain words: what happened, what or
//! who caused it, and the Stripe object involved. Read from the order, every Payment Link it
//! had (one per amount), every change asked of it (`order_changes`), every payment recorded
//! for it, every mail to its payer (`emails`) and what the host application was told.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _};

use crate::domain::format_money;
use crate::store::email::{self, MailState};
use crate::store::order_change::{Change, ChangedBy};
use crate::store::{
    blast, order, order_change, outbound_delivery, outbound_event, payment, payment_link,
};

/// A Stripe object a step involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripeObject {
    PaymentLink(String),
    /// A PaymentIntent (`pi_…`), what Stripe's dashboard shows as the payment.
    Payment(String),
    CheckoutSession(String),
}

/// One thing that happened to the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub what: String,
    /// What or who made it happen.
    pub by: String,
    pub stripe: Option<StripeObject>,
}

/// Every step of `o`'s story, oldest first (steps at the same moment keep their natural order).
pub async fn of_order<C: ConnectionTrait>(db: &C, o: &order::Model) -> Result<Vec<Step>, DbErr> {
    let mut links = payment_link::Entity::find()
        .filter(payment_link::Column::OrderId.eq(o.id.as_str()))
        .all(db)
        .await?;
    links.sort_by_key(|l| (l.generation.unwrap_or(i32::MAX), l.created_at));
    let payments = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(o.id.as_str()))
        .all(db)
        .await?;
    let changes = order_change::for_order(db, &o.id).await?;
    let first_amount = changes
        .iter()
        .find(|c| c.change == Change::Amount)
        .and_then(|c| c.from_cents)
        .unwrap_or(o.amount_cents);
    let mut steps = vec![Step {
        at: o.created_at,
        what: format!(
            "Order created for {}",
            format_money(first_amount, &o.currency)
        ),
        by: match &o.blast_id {
            Some(id) => match blast::find(db, id).await? {
                Some(b) => format!("the blast \u{201c}{}\u{201d}", b.name),
                None => format!("blast {id}"),
            },
            None => "the API".into(),
        },
        stripe: None,
    }];
    for change in &changes {
        let by = match change.changed_by {
            ChangedBy::Api => "the host application (API)".to_owned(),
            ChangedBy::Dashboard => "an operator (dashboard)".to_owned(),
            ChangedBy::Stripe => "Stripe, which refused the link".to_owned(),
            ChangedBy::Worker => format!("a worker, after {} requests to Stripe", o.attempts),
        };
        let what = match (change.change, change.from_cents, change.to_cents) {
            (Change::Amount, Some(from), Some(to)) => format!(
                "Amount changed from {} to {}",
                format_money(from, &o.currency),
                format_money(to, &o.currency)
            ),
            (Change::Amount, _, _) => "Amount changed".into(),
            (Change::Cancel, _, _) => "Order cancelled".into(),
            (Change::PayerEmail, _, _) => format!(
                "Payer's address changed: {}",
                change.detail.as_deref().unwrap_or("no detail recorded")
            ),
            (Change::LinkFailed, _, _) => format!(
                "No pay link could be made: {}",
                change.detail.as_deref().unwrap_or("no reason recorded")
            ),
        };
        steps.push(Step {
            at: change.at,
            what,
            by,
            stripe: None,
        });
    }
    for link in &links {
        let amount = link
            .amount_cents
            .map(|c| format_money(c, link.currency.as_deref().unwrap_or(&o.currency)));
        steps.push(Step {
            at: link.created_at,
            what: match &amount {
                Some(a) => format!("Pay link made for {a}"),
                None => "Pay link made".into(),
            },
            by: match link.origin {
                payment_link::Origin::Minted => "a worker, at Stripe".into(),
                payment_link::Origin::Found => {
                    "the link sweep (found at Stripe after an unanswered request)".into()
                }
            },
            stripe: Some(StripeObject::PaymentLink(link.id.clone())),
        });
        if let Some(at) = link.deactivated_at {
            steps.push(Step {
                at,
                what: "Pay link switched off".into(),
                by: switched_off_because(o, link).into(),
                stripe: Some(StripeObject::PaymentLink(link.id.clone())),
            });
        }
    }
    if links.is_empty()
        && let Some(at) = o.minted_at
    {
        steps.push(Step {
            at,
            what: "Pay link made".into(),
            by: "a worker, at Stripe".into(),
            stripe: o
                .stripe_payment_link_id
                .clone()
                .map(StripeObject::PaymentLink),
        });
    }
    // A failure from before failures were kept in `order_changes`.
    if o.link_state == order::LinkState::Failed
        && !changes.iter().any(|c| c.change == Change::LinkFailed)
    {
        steps.push(Step {
            at: o.last_attempt_at.unwrap_or(o.updated_at),
            what: format!(
                "No pay link could be made: {}",
                o.last_error.as_deref().unwrap_or("no reason recorded")
            ),
            by: match o.link_failure {
                Some(order::LinkFailure::Refused) => "Stripe, which refused the link".into(),
                Some(order::LinkFailure::KeyRefused) => {
                    "Stripe, which refused paylink's API key (retry once it is fixed)".into()
                }
                _ => format!("a worker, after {} requests to Stripe", o.attempts),
            },
            stripe: None,
        });
    }
    if let Some(at) = o.first_clicked_at {
        steps.push(Step {
            at,
            what: "Payer opened the pay URL".into(),
            by: "the payer".into(),
            stripe: None,
        });
    }
    for p in &payments {
        let paid = p
            .amount_cents
            .map(|c| format_money(c, p.currency.as_deref().unwrap_or(&o.currency)));
        let mut what = match paid {
            Some(amount) => format!("Paid {amount}"),
            None => "Paid".into(),
        };
        if let Some(issue) = p.issue {
            what.push_str(&format!(" — needs checking: {}", issue_words(issue)));
        }
        steps.push(Step {
            at: p.recorded_at,
            what,
            by: match p.learned_via {
                payment::LearnedVia::Webhook => "Stripe's webhook",
                payment::LearnedVia::EventSweep => "Stripe's event list (no webhook came)",
                payment::LearnedVia::ReturnPage => "the payer's return from Stripe",
            }
            .into(),
            stripe: Some(match &p.payment_intent_id {
                Some(pi) => StripeObject::Payment(pi.clone()),
                None => StripeObject::CheckoutSession(p.checkout_session_id.clone()),
            }),
        });
    }
    if payments.is_empty()
        && let Some(at) = o.paid_at
    {
        steps.push(Step {
            at,
            what: "Paid".into(),
            by: "Stripe".into(),
            stripe: o
                .stripe_payment_intent_id
                .clone()
                .map(StripeObject::Payment),
        });
    }
    if let Some(at) = o.cancelled_at
        && !changes.iter().any(|c| c.change == Change::Cancel)
    {
        steps.push(Step {
            at,
            what: "Order cancelled".into(),
            by: "a cancel".into(),
            stripe: None,
        });
    }
    steps.extend(mails_to_the_payer(db, &o.id).await?);
    steps.extend(told_the_host(db, &o.id).await?);
    steps.sort_by_key(|s| s.at);
    Ok(steps)
}

/// Two steps per mail at most: asked for, and what the mail server made of it (nothing yet
/// while it is queued or being sent).
async fn mails_to_the_payer<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
) -> Result<Vec<Step>, DbErr> {
    let mut steps = Vec::new();
    for mail in email::for_order(db, order_id).await? {
        let to = &mail.recipient;
        let again = mail.sent_again_on_request();
        steps.push(Step {
            at: mail.created_at,
            what: if again {
                format!("Pay-link mail asked for again, to {to}")
            } else {
                format!("Pay-link mail queued for {to}")
            },
            by: if again {
                "Send again (API or dashboard)".into()
            } else {
                "paylink, once the link was made".into()
            },
            stripe: None,
        });
        let reply = mail.reply.as_deref().unwrap_or("no reply recorded");
        let tries = mail.attempts;
        let outcome = match mail.state {
            MailState::Queued | MailState::Sending => None,
            MailState::Sent => Some((
                mail.sent_at.unwrap_or(mail.updated_at),
                format!("Pay-link mail sent to {to}"),
                format!("the mail server: {reply}"),
            )),
            MailState::Rejected => Some((
                mail.updated_at,
                format!("Mail to {to} refused: {reply}"),
                "the mail server (no more mail to this address)".into(),
            )),
            MailState::Deferred => Some((
                mail.updated_at,
                format!("Mail to {to} not taken yet after {tries} tries: {reply}"),
                "the mail server; paylink tries again".into(),
            )),
            MailState::Failed => Some((
                mail.updated_at,
                format!("Mail to {to} given up after {tries} tries: {reply}"),
                "the mail server".into(),
            )),
            MailState::Suppressed => Some((
                mail.updated_at,
                format!("Mail to {to} not sent: {reply}"),
                "paylink".into(),
            )),
        };
        if let Some((at, what, by)) = outcome {
            steps.push(Step {
                at,
                what,
                by,
                stripe: None,
            });
        }
    }
    Ok(steps)
}

/// A step per outbound event about the order: what the host application was told, and how its
/// deliveries fared (docs/webhooks.md).
async fn told_the_host<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<Vec<Step>, DbErr> {
    let events = outbound_event::for_order(db, order_id).await?;
    let seqs: Vec<i32> = events.iter().map(|e| e.seq).collect();
    let deliveries = outbound_delivery::for_events(db, &seqs).await?;
    Ok(events
        .iter()
        .map(|event| {
            let of_event: Vec<&outbound_delivery::Model> = deliveries
                .iter()
                .filter(|d| d.event_seq == event.seq)
                .collect();
            Step {
                at: event.created_at,
                what: format!(
                    "Your application was told: {} ({})",
                    event.event_type,
                    if event.fanned_out {
                        delivery_words(&of_event)
                    } else {
                        "about to be sent".into()
                    }
                ),
                by: "paylink's webhooks".into(),
                stripe: None,
            }
        })
        .collect())
}

fn delivery_words(deliveries: &[&outbound_delivery::Model]) -> String {
    use outbound_delivery::State;
    if deliveries.is_empty() {
        return "no endpoint was registered for it".into();
    }
    let count = |state| deliveries.iter().filter(|d| d.state == state).count();
    let (delivered, pending, failed) = (
        count(State::Delivered),
        count(State::Pending),
        count(State::Failed),
    );
    let mut parts = Vec::new();
    if delivered > 0 {
        parts.push(format!("delivered to {delivered} endpoint(s)"));
    }
    if pending > 0 {
        parts.push(format!("{pending} still being tried"));
    }
    if failed > 0 {
        let why = deliveries
            .iter()
            .find(|d| d.state == State::Failed)
            .and_then(|d| {
                crate::outbound::dispatch::shown_error(d.last_status, d.last_error.as_deref())
            })
            .unwrap_or_default();
        parts.push(format!("{failed} gave up: {why}"));
    }
    parts.join("; ")
}

fn switched_off_because(o: &order::Model, link: &payment_link::Model) -> &'static str {
    if link.generation.is_some_and(|g| g < o.link_generation) {
        "replaced by a link for the new amount"
    } else if o.status == order::Status::Cancelled {
        "the order was cancelled"
    } else if o.status == order::Status::Paid {
        "paid: this kind of order takes one payment"
    } else {
        "the reconciler (a link that must not take money)"
    }
}

fn issue_words(issue: payment::Issue) -> &'static str {
    match issue {
        payment::Issue::AmountMismatch => "not the amount asked for",
        payment::Issue::PaidAfterCancel => "paid after the order was cancelled",
        payment::Issue::PaidTwice => "a second payment",
    }
}
