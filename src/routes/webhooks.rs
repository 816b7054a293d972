//! `POST /webhooks/stripe` (docs/stripe.md, "When people pay"): verify the signature, store the raw
//! event keyed by its Stripe id, enqueue its processing, answer 200. Nothing is stored for a
//! refused delivery; a delivery is answered 200 only once its event is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::routes::state::AppState;
use crate::webhook_signature;

/// Stripe events are a few KiB; anything near this is not from Stripe.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The envelope fields the intake needs; the rest is stored as received.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
}

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let answer = take(&state, &headers, body).await;
    let result = match &answer {
        Ok(Json(v)) if v["duplicate"] == Value::Bool(true) => "duplicate",
        Ok(_) => "received",
        Err(ApiError::Unavailable(_) | ApiError::Unexpected(_)) => "unavailable",
        Err(_) => "rejected",
    };
    metrics::counter!("paylink_webhooks_total", "result" => result).increment(1);
    answer
}

async fn take(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "webhook bodies are limited to {MAX_BODY_BYTES} bytes"
            ))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    let webhooks = &state.webhooks;
    if webhooks.secrets.is_empty() {
        tracing::error!("a Stripe webhook arrived but PAYLINK__STRIPE__WEBHOOK_SECRETS is not set");
        return Err(ApiError::Unavailable(
            "webhook secrets are not configured".into(),
        ));
    }
    // A header that is there but not visible ASCII is malformed, not missing.
    let header = match headers.get("stripe-signature").map(|v| v.to_str()) {
        None => None,
        Some(Ok(header)) => Some(header),
        Some(Err(_)) => {
            return Err(ApiError::BadRequest(
                "signature refused: malformed Stripe-Signature header: not visible ASCII".into(),
            ));
        }
    };
    webhook_signature::verify(
        header,
        &body,
        &webhooks.secrets,
        webhooks.tolerance_secs,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| ApiError::BadRequest(format!("signature refused: {e}")))?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed event JSON: {e}")))?;
    for (field, value) in [("id", &envelope.id), ("type", &envelope.event_type)] {
        if !paylink_core::store::could_be_key(value) {
            return Err(ApiError::BadRequest(format!(
                "malformed event: {field} must be 1 to 255 bytes without NUL"
            )));
        }
    }
    // The body parsed as JSON, so it is UTF-8.
    let payload = String::from_utf8_lossy(&body).into_owned();
    let stored = webhooks
        .intake
        .accept(envelope.id, envelope.event_type, payload)
        .await?;
    Ok(Json(json!({"received": true, "duplicate": !stored})))
}
