//! `/healthz` (the process answers) and `/readyz` (the database and the queue answer; the body
//! also says whether a webhook secret is set and whether Stripe refuses paylink's key, which
//! stop payments being seen or links being made but not orders being taken, so they leave the
//! status at 200).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::routes::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.db.ping().await.is_ok();
    let queue = state.queue.ping().await.is_ok();
    let status = if database && queue {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let webhook_secret = if state.webhooks.secrets.is_empty() {
        "missing"
    } else {
        "ok"
    };
    let stripe_key = match paylink_core::stripe_key::refusal(&state.db).await {
        Ok(None) => "ok",
        Ok(Some(_)) => "refused",
        Err(_) => "unknown",
    };
    (
        status,
        Json(json!({
            "database": word(database),
            "queue": word(queue),
            "webhook_secret": webhook_secret,
            "stripe_key": stripe_key,
        })),
    )
}
