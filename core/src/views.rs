//! The JSON shapes of orders and blasts, shared by the API (`GET /v1/orders/{id}`,
//! `GET /v1/blasts/{id}`) and the outbound events, whose `data` is what the matching `GET` shows;
//! and a webhook endpoint as the API and the dashboard show it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use crate::domain::Payer;
use crate::store::{blast, order, webhook_endpoint};

/// The payer's stable URL for an order's `pay_token` under `public_base_url`.
pub fn pay_url(public_base_url: &str, pay_token: &str) -> String {
    format!("{}/pay/{pay_token}", public_base_url.trim_end_matches('/'))
}

/// An order as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct OrderView {
    id: String,
    external_ref: String,
    product_id: String,
    blast_id: Option<String>,
    amount_cents: i64,
    currency: String,
    payer: Payer,
    status: order::Status,
    link_state: order::LinkState,
    link_generation: i32,
    stripe_payment_link_id: Option<String>,
    stripe_payment_link_url: Option<String>,
    pay_url: String,
    last_error: Option<String>,
    attempts: i32,
    last_attempt_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    /// What Stripe says was paid (`amount_total`, `currency`), beside what was asked.
    paid_amount_cents: Option<i64>,
    paid_currency: Option<String>,
    /// The Customer the card was saved to (save-card categories).
    stripe_customer_id: Option<String>,
    stripe_checkout_session_id: Option<String>,
    stripe_payment_intent_id: Option<String>,
    /// `amount_mismatch`, `paid_after_cancel` or `paid_twice`: a payment needing attention.
    payment_issue: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OrderView {
    /// `public_base_url`: where pay URLs live (the intake's `public_base_url`).
    pub fn new(public_base_url: &str, o: order::Model) -> Self {
        Self {
            pay_url: pay_url(public_base_url, &o.pay_token),
            id: o.id,
            external_ref: o.external_ref,
            product_id: o.product_id,
            blast_id: o.blast_id,
            amount_cents: o.amount_cents,
            currency: o.currency,
            payer: Payer {
                email: o.payer_email,
                name: o.payer_name,
            },
            status: o.status,
            link_state: o.link_state,
            link_generation: o.link_generation,
            stripe_payment_link_id: o.stripe_payment_link_id,
            stripe_payment_link_url: o.stripe_payment_link_url,
            last_error: o.last_error,
            attempts: o.attempts,
            last_attempt_at: o.last_attempt_at,
            paid_at: o.paid_at,
            paid_amount_cents: o.paid_amount_cents,
            paid_currency: o.paid_currency,
            stripe_customer_id: o.stripe_customer_id,
            stripe_checkout_session_id: o.stripe_checkout_session_id,
            stripe_payment_intent_id: o.stripe_payment_intent_id,
            payment_issue: o.payment_issue,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A blast as the API shows it: its orders counted by state.
#[derive(Clone, Debug, Serialize)]
pub struct BlastView {
    id: String,
    name: String,
    size: i32,
    created_at: DateTime<Utc>,
    counts: BlastCounts,
    /// The orders in plain buckets that add up to `size` (`blast::Progress`).
    progress: blast::Progress,
}

/// A blast's counts: its orders by state, and its mails by state.
#[derive(Clone, Debug, Serialize)]
pub struct BlastCounts {
    #[serde(flatten)]
    orders: blast::Counts,
    emails: crate::store::email::MailCounts,
}

impl BlastView {
    /// The blast `id` with its counts now; `None` when there is no such blast.
    pub async fn load<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Self>, DbErr> {
        let Some(found) = blast::find(db, id).await? else {
            return Ok(None);
        };
        let counts = blast::counts(db, id).await?;
        let emails = crate::store::email::counts_for_blast(db, id).await?;
        Ok(Some(Self {
            id: found.id,
            name: found.name,
            size: found.size,
            created_at: found.created_at,
            progress: counts.progress.clone(),
            counts: BlastCounts {
                orders: counts,
                emails,
            },
        }))
    }
}

/// A webhook endpoint as the API and the dashboard show it: never its secrets, and its URL
/// with any credentials masked.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    /// `None` (`null`): every event type.
    pub events: Option<Vec<String>>,
    /// `enabled`, or `failing` once a delivery ran out of tries (until one succeeds).
    pub state: &'static str,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_endpoint::Model> for EndpointView {
    fn from(e: webhook_endpoint::Model) -> Self {
        Self {
            events: e.event_types(),
            state: if e.failing_since.is_some() {
                "failing"
            } else {
                "enabled"
            },
            id: e.id,
            // Credentials in the URL stay in the database (the dispatcher needs them).
            url: crate::outbound::target::mask_url(&e.url),
            failing_since: e.failing_since,
            created_at: e.created_at,
        }
    }
}
