//! `POST /v1/orders`, `GET /v1/orders/{id}`, `PATCH /v1/orders/{id}` (a new amount) and
//! `POST /v1/orders/{id}/cancel`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use paylink_core::store::order;
use serde::Deserialize;

use super::ApiError;
use super::extract::JsonBody;
use crate::routes::state::AppState;
use paylink_core::domain::{AmountCents, OrderId, OrderInput};
use paylink_core::orders;
use paylink_core::views::OrderView;

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
    Ok((
        status,
        Json(OrderView::new(&state.jobs.public_base_url, stored)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let found = order::find(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id:?}")))?;
    Ok(Json(OrderView::new(&state.jobs.public_base_url, found)))
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
    Ok(Json(OrderView::new(&state.jobs.public_base_url, changed)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderView>, ApiError> {
    let cancelled = orders::cancel(
        &state.db,
        &state.queue,
        &state.jobs.public_base_url,
        &id,
        orders::ChangedBy::Api,
    )
    .await?;
    Ok(Json(OrderView::new(&state.jobs.public_base_url, cancelled)))
}
