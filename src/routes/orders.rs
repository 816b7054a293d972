//! `POST /v1/orders`, `GET /v1/orders/{id}`, `PATCH /v1/orders/{id}` (a new amount) and
//! `POST /v1/orders/{id}/cancel`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paylink_core::store::order;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::extract::JsonBody;
use crate::startup::AppState;
use paylink_core::domain::{AmountCents, OrderId, OrderInput, Payer};
use paylink_core::orders;

/// An order as the API shows it.
#[derive(Debug, Serialize)]
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
    pub fn new(state: &AppState, o: order::Model) -> Self {
        Self {
            pay_url: state.jobs.pay_url(&o.pay_token),
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

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<OrderInput>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    let (stored, created) = orders::create(&state.db, &state.queue, &body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(OrderView::new(&state, stored))))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let found = order::find(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id:?}")))?;
    Ok(Json(OrderView::new(&state, found)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountChange {
    amount_cents: i64,
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
    JsonBody(body): JsonBody<AmountChange>,
) -> Result<Json<OrderView>, ApiError> {
    let amount = AmountCents::parse("amount_cents", body.amount_cents)?;
    let changed =
        orders::change_amount(&state.db, &state.queue, &id, amount, orders::ChangedBy::Api).await?;
    Ok(Json(OrderView::new(&state, changed)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderView>, ApiError> {
    let cancelled = orders::cancel(&state.db, &state.queue, &id, orders::ChangedBy::Api).await?;
    Ok(Json(OrderView::new(&state, cancelled)))
}
