//! The stand-in's own controls under `/_fake/`, and the minimal hosted payment page.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::FakeStripe;
use super::error::mask_key;
use super::events;
use super::sessions::{self, Refusal};
use super::state::{FakeConfig, State, Stats};

type Fake = AxumState<Arc<FakeStripe>>;

/// `POST /_fake/config`: every field optional; absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    rate_limit_per_sec: Option<u32>,
    account_rate_limit_per_sec: Option<u32>,
    fail_rate: Option<f64>,
    fail_next: Option<u32>,
    fail_after_rate: Option<f64>,
    fail_after_next: Option<u32>,
    latency_ms: Option<u64>,
    slow_rate: Option<f64>,
    slow_ms: Option<u64>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    drop_webhook_rate: Option<f64>,
    idempotency_ttl_secs: Option<u64>,
    /// The only keys accepted from now on; `[]` accepts any test key again.
    api_keys: Option<Vec<String>>,
    /// Restricted keys' permissions from now on (replacing the whole map); `{}` lifts them.
    key_permissions: Option<std::collections::BTreeMap<String, Vec<String>>>,
    drop_customer_creation: Option<bool>,
}

pub async fn set_config(AxumState(fake): Fake, Json(patch): Json<ConfigPatch>) -> Response {
    for (name, rate) in [
        ("fail_rate", patch.fail_rate),
        ("fail_after_rate", patch.fail_after_rate),
        ("slow_rate", patch.slow_rate),
        ("drop_webhook_rate", patch.drop_webhook_rate),
    ] {
        if let Some(rate) = rate
            && !(0.0..=1.0).contains(&rate)
        {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("{name} must be between 0 and 1"),
            );
        }
    }
    let mut state = fake.lock();
    let config = &mut state.config;
    if let Some(v) = patch.rate_limit_per_sec {
        config.rate_limit_per_sec = v;
    }
    if let Some(v) = patch.account_rate_limit_per_sec {
        config.account_rate_limit_per_sec = v;
    }
    if let Some(v) = patch.fail_rate {
        config.fail_rate = v;
    }
    if let Some(v) = patch.fail_next {
        config.fail_next = v;
    }
    if let Some(v) = patch.fail_after_rate {
        config.fail_after_rate = v;
    }
    if let Some(v) = patch.fail_after_next {
        config.fail_after_next = v;
    }
    if let Some(v) = patch.latency_ms {
        config.latency_ms = v;
    }
    if let Some(v) = patch.slow_rate {
        config.slow_rate = v;
    }
    if let Some(v) = patch.slow_ms {
        config.slow_ms = v;
    }
    if let Some(v) = patch.webhook_url {
        config.webhook_url = Some(v);
    }
    if let Some(v) = patch.webhook_secret {
        config.webhook_secret = Some(v);
    }
    if let Some(v) = patch.drop_webhook_rate {
        config.drop_webhook_rate = v;
    }
    if let Some(v) = patch.idempotency_ttl_secs {
        config.idempotency_ttl_secs = v;
    }
    if let Some(v) = patch.api_keys {
        config.api_keys = v;
    }
    if let Some(v) = patch.key_permissions {
        config.key_permissions = v;
    }
    if let Some(v) = patch.drop_customer_creation {
        config.drop_customer_creation = v;
    }
    Json(config_view(config)).into_response()
}

/// The configuration as `POST /_fake/config` answers it: every knob, but of the webhook secret
/// only whether one is set, and the API keys masked as Stripe masks them (the controls need no
/// credentials, so they never hand either out).
fn config_view(config: &FakeConfig) -> Value {
    let mut view = serde_json::to_value(config).unwrap_or_else(|_| json!({}));
    if let Some(fields) = view.as_object_mut() {
        fields.remove("webhook_secret");
        fields.insert(
            "webhook_secret_set".into(),
            Value::Bool(config.webhook_secret.is_some()),
        );
        fields.insert(
            "api_keys".into(),
            json!(
                config
                    .api_keys
                    .iter()
                    .map(|k| mask_key(k))
                    .collect::<Vec<_>>()
            ),
        );
        fields.insert(
            "key_permissions".into(),
            json!(
                config
                    .key_permissions
                    .iter()
                    .map(|(k, permissions)| (mask_key(k), permissions.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>()
            ),
        );
    }
    view
}

pub async fn stats(AxumState(fake): Fake) -> Json<Stats> {
    let mut state = fake.lock();
    state.refresh_link_counts();
    state.stats.checkout_sessions = state.sessions.len() as u64;
    Json(state.stats.clone())
}

/// Body of `POST /_fake/payment_links/{id}/complete` and
/// `POST /_fake/checkout_sessions/{id}/complete`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    /// `paid` (default) or `unpaid` (a delayed method that settles later).
    payment_status: Option<String>,
    /// False: the event is generated and listed but never delivered.
    deliver: Option<bool>,
}

impl Complete {
    /// The payment status and whether to deliver the event, defaults filled in.
    fn read(body: Option<Json<Complete>>) -> Result<(String, bool), Refusal> {
        let body = body.map(|Json(b)| b).unwrap_or_default();
        let status = body.payment_status.unwrap_or_else(|| "paid".into());
        if status != "paid" && status != "unpaid" {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                "payment_status must be paid or unpaid".into(),
            ));
        }
        Ok((status, body.deliver.unwrap_or(true)))
    }
}

/// The event a completed Checkout Session generates.
const COMPLETED: &str = "checkout.session.completed";

/// A payer opens checkout on link `id` (active and under its limit): the session, open.
pub async fn open_session(AxumState(fake): Fake, Path(id): Path<String>) -> Response {
    match sessions::open(&mut fake.lock(), &id) {
        Ok(session) => Json(json!({"checkout_session": session})).into_response(),
        Err((code, message)) => refuse(code, &message),
    }
}

/// A payer pays on open session `id`, even if its link was switched off since.
pub async fn complete_session(
    AxumState(fake): Fake,
    Path(id): Path<String>,
    body: Option<Json<Complete>>,
) -> Response {
    answer_completed(Complete::read(body).and_then(|(status, deliver)| {
        publish(&fake, COMPLETED, deliver, |state| {
            sessions::complete(state, &id, &status)
        })
    }))
}

/// A payer opens checkout on link `id` and pays at once.
pub async fn complete(
    AxumState(fake): Fake,
    Path(id): Path<String>,
    body: Option<Json<Complete>>,
) -> Response {
    answer_completed(
        Complete::read(body)
            .and_then(|(status, deliver)| open_and_pay(&fake, &id, &status, deliver)),
    )
}

fn answer_completed(completed: Result<(Value, Value), Refusal>) -> Response {
    match completed {
        Ok((session, event)) => {
            Json(json!({"checkout_session": session["id"], "event": event["id"]})).into_response()
        }
        Err((code, message)) => refuse(code, &message),
    }
}

/// Opens a session on link `id` and completes it: the session and its event.
fn open_and_pay(
    fake: &Arc<FakeStripe>,
    id: &str,
    payment_status: &str,
    deliver: bool,
) -> Result<(Value, Value), Refusal> {
    publish(fake, COMPLETED, deliver, |state| {
        let session = sessions::open(state, id)?;
        sessions::complete(state, &session, payment_status)
    })
}

/// Runs `step` under the lock and generates an event of `event_type` about the object it
/// returns, delivered (after the lock is released) unless `deliver` is false or it is dropped.
fn publish(
    fake: &Arc<FakeStripe>,
    event_type: &str,
    deliver: bool,
    step: impl FnOnce(&mut State) -> Result<Value, Refusal>,
) -> Result<(Value, Value), Refusal> {
    let (object, event, deliver) = {
        let mut state = fake.lock();
        let object = step(&mut state)?;
        let (event, deliver) = events::generate(&mut state, event_type, &object, deliver);
        (object, event, deliver)
    };
    if deliver {
        events::deliver(fake.clone(), event.clone());
    }
    Ok((object, event))
}

/// `POST /_fake/checkout_sessions/{id}/settle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settle {
    outcome: String,
    /// False: the event is generated and listed but never delivered.
    deliver: Option<bool>,
}

/// A delayed payment settles: `async_payment_succeeded` or `async_payment_failed`.
pub async fn settle(
    AxumState(fake): Fake,
    Path(id): Path<String>,
    Json(body): Json<Settle>,
) -> Response {
    let (event_type, status) = match body.outcome.as_str() {
        "succeeded" => ("checkout.session.async_payment_succeeded", "paid"),
        "failed" => ("checkout.session.async_payment_failed", "unpaid"),
        _ => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "outcome must be succeeded or failed",
            );
        }
    };
    let settled = publish(&fake, event_type, body.deliver.unwrap_or(true), |state| {
        let Some(session) = state.sessions.get_mut(&id) else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("No such checkout.session: '{id}'"),
            ));
        };
        if session["status"] != "complete" || session["payment_status"] != "unpaid" {
            return Err((
                StatusCode::CONFLICT,
                "Only a session completed unpaid can settle.".into(),
            ));
        }
        session["payment_status"] = Value::from(status);
        Ok(session.clone())
    });
    match settled {
        Ok((_, event)) => {
            Json(json!({"checkout_session": id, "event_type": event_type, "event": event["id"]}))
                .into_response()
        }
        Err((code, message)) => refuse(code, &message),
    }
}

/// The hosted page's Pay button: complete checkout (paid) and follow `after_completion`.
pub async fn pay(AxumState(fake): Fake, Path(id): Path<String>) -> Response {
    match open_and_pay(&fake, &id, "paid", true) {
        Ok((session, _)) => match session["success_url"].as_str() {
            Some(url) => {
                let url = url.replace(
                    "{CHECKOUT_SESSION_ID}",
                    session["id"].as_str().unwrap_or_default(),
                );
                (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, url)]).into_response()
            }
            None => Html(page("Paid", "<h1>Thanks for your payment</h1>")).into_response(),
        },
        Err((code, message)) => (
            code,
            Html(page(
                "Payment refused",
                &format!("<p>{}</p>", escape(&message)),
            )),
        )
            .into_response(),
    }
}

fn refuse(code: StatusCode, message: &str) -> Response {
    (code, Json(json!({"error": {"message": message}}))).into_response()
}

/// `GET {link url}`: what a payer sees at Stripe, reduced to the amount and a Pay button, or
/// the link's `inactive_message` once it takes no more payments.
pub async fn hosted_page(AxumState(fake): Fake, Path(id): Path<String>) -> Response {
    let state = fake.lock();
    let Some(link) = state.links.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Not found",
                "<p>This payment link does not exist.</p>",
            )),
        )
            .into_response();
    };
    let object = &link.object;
    if sessions::closed(object).is_some() {
        let message = object["inactive_message"]
            .as_str()
            .unwrap_or("This link is no longer active.");
        return Html(page(
            "Link inactive",
            &format!("<p class=\"inactive\">{}</p>", escape(message)),
        ))
        .into_response();
    }
    let currency = object["currency"].as_str().unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p class=\"amount\" data-amount=\"{}\">{}.{:02} {}</p><form method=\"post\" action=\"/b/{}/pay\"><button type=\"submit\">Pay</button></form><p>Test mode: no real payment is taken.</p>",
        escape(&link.product_name),
        link.amount,
        link.amount / 100,
        link.amount % 100,
        escape(&currency.to_uppercase()),
        escape(&id),
    );
    Html(page("Pay", &body)).into_response()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · fake Stripe</title></head><body>{body}</body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
