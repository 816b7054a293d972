//! An order's story for the operator, in time order and plain words: what happened, what or
//! who caused it, and the Stripe object involved. Read from the order, every Payment Link it
//! had (one per amount) and every payment recorded for it, so amount changes show as the
//! switch from one link to the next.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _};

use crate::domain::format_money;
use crate::store::{order, payment, payment_link};

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
    let mut steps = vec![Step {
        at: o.created_at,
        what: format!(
            "Order created for {}",
            format_money(first_amount(o, &links), &o.currency)
        ),
        by: match &o.blast_id {
            Some(blast) => format!("blast {blast}"),
            None => "the API".into(),
        },
        stripe: None,
    }];
    let mut previous: Option<&payment_link::Model> = None;
    for link in &links {
        let amount = link
            .amount_cents
            .map(|c| format_money(c, link.currency.as_deref().unwrap_or(&o.currency)));
        if let (Some(before), Some(now)) =
            (previous.and_then(|p| p.amount_cents), link.amount_cents)
            && before != now
        {
            steps.push(Step {
                at: previous
                    .and_then(|p| p.deactivated_at)
                    .unwrap_or(link.created_at),
                what: format!(
                    "Amount changed from {} to {}",
                    format_money(before, &o.currency),
                    format_money(now, &o.currency)
                ),
                by: "an amount change (dashboard or API)".into(),
                stripe: None,
            });
        }
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
        previous = Some(link);
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
    if o.link_state == order::LinkState::Failed {
        steps.push(Step {
            at: o.last_attempt_at.unwrap_or(o.updated_at),
            what: format!(
                "No pay link could be made: {}",
                o.last_error.as_deref().unwrap_or("no reason recorded")
            ),
            by: match o.link_failure {
                Some(order::LinkFailure::Refused) => "Stripe, which refused the link".into(),
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
    if let Some(at) = o.cancelled_at {
        steps.push(Step {
            at,
            what: "Order cancelled".into(),
            by: "a cancel (dashboard or API)".into(),
            stripe: None,
        });
    }
    steps.sort_by_key(|s| s.at);
    Ok(steps)
}

/// The amount the order was created for: its first link's, else today's.
fn first_amount(o: &order::Model, links: &[payment_link::Model]) -> i64 {
    links
        .first()
        .and_then(|l| l.amount_cents)
        .unwrap_or(o.amount_cents)
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
