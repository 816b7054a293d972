//! `POST /v1/orders` and `GET /v1/orders/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paylink_workers::jobs::mint_link::MintLink;
use paylink_workers::store::order::{self, NewOrder};
use paylink_workers::store::product;
use serde::{Deserialize, Serialize};

use super::extract::JsonBody;
use super::{ApiError, validate};
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    external_ref: String,
    product_id: String,
    amount_cents: i64,
    currency: Option<String>,
    payer: Payer,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Payer {
    email: String,
    name: String,
}

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
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// Validates a request into a new order, checking the product exists.
async fn validated(state: &AppState, body: OrderRequest) -> Result<NewOrder, ApiError> {
    let external_ref = validate::text("external_ref", &body.external_ref, 255)?;
    let amount_cents = validate::amount("amount_cents", body.amount_cents)?;
    let payer_email = validate::email("payer.email", &body.payer.email)?;
    let payer_name = validate::text("payer.name", &body.payer.name, 200)?;
    let product = product::find(&state.db, &body.product_id)
        .await?
        .ok_or_else(|| {
            ApiError::validation("product_id", format!("no product {:?}", body.product_id))
        })?;
    let currency = match &body.currency {
        Some(c) => validate::currency("currency", c)?,
        None => product.currency.clone(),
    };
    Ok(NewOrder {
        external_ref,
        product_id: product.id,
        blast_id: None,
        payer_email,
        payer_name,
        amount_cents,
        currency,
    })
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<OrderRequest>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    let new = validated(&state, body).await?;
    let (stored, created) = order::insert_or_get(&state.db, new.clone()).await?;
    if !created {
        // The same external_ref is the caller's retry; a different order under it is a mistake.
        if stored.amount_cents != new.amount_cents
            || stored.product_id != new.product_id
            || stored.currency != new.currency
            || stored.payer_email != new.payer_email
        {
            return Err(ApiError::Conflict(format!(
                "external_ref {:?} already names order {} with a different product, amount, currency or payer",
                new.external_ref, stored.id
            )));
        }
        return Ok((StatusCode::OK, Json(OrderView::new(&state, stored))));
    }
    let job = MintLink {
        order_id: stored.id.clone(),
        generation: stored.link_generation,
    };
    if let Err(e) = state.queue.enqueue(job).await {
        // The order is stored: a click mints it, and the reconciler re-enqueues it.
        tracing::warn!(order_id = %stored.id, error = %format!("{e:#}"), "order stored but not enqueued");
    }
    Ok((StatusCode::CREATED, Json(OrderView::new(&state, stored))))
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
