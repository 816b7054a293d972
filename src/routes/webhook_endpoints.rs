//! `/v1/webhook_endpoints`: where paylink sends its own events (docs/webhooks.md). The secret is
//! in the answers that make one (create, rotate) and nowhere else.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paylink_core::outbound::endpoints;
use paylink_core::store::webhook_endpoint;
use paylink_core::views::EndpointView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::extract::JsonBody;
use crate::routes::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    url: String,
    events: Option<Vec<String>>,
}

/// The view with the one-time `secret` beside it.
fn with_secret(endpoint: webhook_endpoint::Model, secret: String) -> Value {
    let mut body = json!(EndpointView::from(endpoint));
    body["secret"] = Value::String(secret);
    body
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewEndpoint>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (created, secret) = endpoints::create(
        &state.db,
        &body.url,
        body.events.as_deref(),
        state.allow_private_networks,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(with_secret(created, secret))))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all: Vec<EndpointView> = webhook_endpoint::all(&state.db)
        .await?
        .into_iter()
        .map(EndpointView::from)
        .collect();
    Ok(Json(json!({ "data": all })))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(endpoints::find(&state.db, &id).await?.into()))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    endpoints::delete(&state.db, &id).await?;
    Ok(Json(json!({ "id": id, "deleted": true })))
}

/// A new secret; the old one signs too until `previous_secret_expires_at`.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (endpoint, secret, until) = endpoints::rotate(&state.db, &id, state.secret_overlap).await?;
    let mut body = with_secret(endpoint, secret);
    body["previous_secret_expires_at"] = json!(until);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// RFC 3339, e.g. `2026-12-01T09:00:00Z`.
    since: String,
    /// RFC 3339; absent: now.
    until: Option<String>,
}

fn rfc3339(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::validation(
                field,
                format!("{raw:?} is not an RFC 3339 time such as 2026-12-01T09:00:00Z"),
            )
        })
}

/// The events in `[since, until)` that the endpoint takes, at most 10,000, sent again with
/// their own `webhook-id`. Answers at once: the work is done in the background (docs/webhooks.md,
/// "Delivery, retries and replay"); `next_since` says where a longer range goes on.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Replay>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let since = rfc3339("since", &body.since)?;
    let until = body
        .until
        .as_deref()
        .map(|u| rfc3339("until", u))
        .transpose()?;
    if until.is_some_and(|u| u <= since) {
        return Err(ApiError::validation("until", "must be after since"));
    }
    let (replay, next_since) = endpoints::replay(&state.db, &id, since, until).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": id,
            "replay_id": replay.id,
            "since": replay.since,
            "until": replay.until,
            "replayed": replay.total,
            "next_since": next_since,
        })),
    ))
}

/// How far a replay has got: `done` of `replayed` events due again, `finished_at` once all are.
pub async fn show_replay(
    State(state): State<AppState>,
    Path((id, replay_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let replay = endpoints::find_replay(&state.db, &id, &replay_id).await?;
    Ok(Json(json!({
        "id": id,
        "replay_id": replay.id,
        "since": replay.since,
        "until": replay.until,
        "replayed": replay.total,
        "done": replay.done,
        "state": if replay.finished_at.is_some() { "finished" } else { "running" },
        "created_at": replay.created_at,
        "finished_at": replay.finished_at,
    })))
}
