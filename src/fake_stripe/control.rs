//! The stand-in's own controls under `/_fake/`, and the minimal hosted payment page.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::FakeStripe;
use super::events;
use super::state::{FakeConfig, Stats};

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
    Json::<FakeConfig>(config.clone()).into_response()
}

pub async fn stats(AxumState(fake): Fake) -> Json<Stats> {
    let mut state = fake.lock();
    state.refresh_link_counts();
    Json(state.stats.clone())
}

/// `POST /_fake/payment_links/{id}/complete`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    payment_status: Option<String>,
}

/// A payer completed checkout on the link: record the session (counted against the link's
/// completed-sessions limit) and deliver `checkout.session.completed`.
pub async fn complete(
    AxumState(fake): Fake,
    Path(id): Path<String>,
    body: Option<Json<Complete>>,
) -> Response {
    let status = body
        .and_then(|Json(b)| b.payment_status)
        .unwrap_or_else(|| "paid".into());
    if status != "paid" && status != "unpaid" {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payment_status must be paid or unpaid",
        );
    }
    match complete_session(&fake, &id, &status) {
        Ok(session) => Json(serde_json::json!({"checkout_session": session["id"]})).into_response(),
        Err((code, message)) => refuse(code, &message),
    }
}

/// Records a completed session on link `id` and delivers its event; the session on success.
fn complete_session(
    fake: &Arc<FakeStripe>,
    id: &str,
    payment_status: &str,
) -> Result<Value, (StatusCode, String)> {
    let session = {
        let mut state = fake.lock();
        let Some(link) = state.links.get_mut(id) else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("No such payment_link: '{id}'"),
            ));
        };
        if link.object["active"] != Value::Bool(true) {
            return Err((
                StatusCode::CONFLICT,
                "This payment link is not active.".into(),
            ));
        }
        let restrictions = &mut link.object["restrictions"]["completed_sessions"];
        if let (Some(count), Some(limit)) = (
            restrictions["count"].as_i64(),
            restrictions["limit"].as_i64(),
        ) {
            if count >= limit {
                return Err((
                    StatusCode::CONFLICT,
                    "This payment link has reached its completed sessions limit.".into(),
                ));
            }
            restrictions["count"] = Value::from(count + 1);
        }
        let session = events::checkout_session(&link.object, link.amount, payment_status);
        let session_id = session["id"].as_str().unwrap_or_default().to_owned();
        state.sessions.insert(session_id, session.clone());
        session
    };
    events::deliver(
        fake.clone(),
        events::event("checkout.session.completed", &session),
    );
    Ok(session)
}

/// `POST /_fake/checkout_sessions/{id}/settle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settle {
    outcome: String,
}

/// A delayed payment settles: deliver `async_payment_succeeded` or `async_payment_failed`.
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
    let session = {
        let mut state = fake.lock();
        let Some(session) = state.sessions.get_mut(&id) else {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!("No such checkout.session: '{id}'"),
            );
        };
        if session["payment_status"] != "unpaid" {
            return refuse(
                StatusCode::CONFLICT,
                "Only a session completed unpaid can settle.",
            );
        }
        session["payment_status"] = Value::from(status);
        session.clone()
    };
    events::deliver(fake.clone(), events::event(event_type, &session));
    Json(serde_json::json!({"checkout_session": id, "event_type": event_type})).into_response()
}

/// The hosted page's Pay button: complete checkout (paid) and follow `after_completion`.
pub async fn pay(AxumState(fake): Fake, Path(id): Path<String>) -> Response {
    match complete_session(&fake, &id, "paid") {
        Ok(session) => match session["success_url"].as_str() {
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
    (
        code,
        Json(serde_json::json!({"error": {"message": message}})),
    )
        .into_response()
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
    let limit = &object["restrictions"]["completed_sessions"];
    let exhausted = limit["limit"]
        .as_i64()
        .is_some_and(|l| limit["count"].as_i64().unwrap_or(0) >= l);
    if object["active"] != Value::Bool(true) || exhausted {
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
