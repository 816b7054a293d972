//! The stand-in's own controls under `/_fake/`, and the minimal hosted payment page.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::FakeStripe;
use super::state::{FakeConfig, Stats};

type Fake = AxumState<Arc<FakeStripe>>;

/// `POST /_fake/config`: every field optional; absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    rate_limit_per_sec: Option<u32>,
    fail_rate: Option<f64>,
    fail_next: Option<u32>,
    latency_ms: Option<u64>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
}

pub async fn set_config(AxumState(fake): Fake, Json(patch): Json<ConfigPatch>) -> Response {
    if let Some(rate) = patch.fail_rate
        && !(0.0..=1.0).contains(&rate)
    {
        let body = serde_json::json!({"error": {"message": "fail_rate must be between 0 and 1"}});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let mut state = fake.lock();
    let config = &mut state.config;
    if let Some(v) = patch.rate_limit_per_sec {
        config.rate_limit_per_sec = v;
    }
    if let Some(v) = patch.fail_rate {
        config.fail_rate = v;
    }
    if let Some(v) = patch.fail_next {
        config.fail_next = v;
    }
    if let Some(v) = patch.latency_ms {
        config.latency_ms = v;
    }
    if let Some(v) = patch.webhook_url {
        config.webhook_url = Some(v);
    }
    if let Some(v) = patch.webhook_secret {
        config.webhook_secret = Some(v);
    }
    Json::<FakeConfig>(config.clone()).into_response()
}

pub async fn stats(AxumState(fake): Fake) -> Json<Stats> {
    let mut state = fake.lock();
    state.refresh_link_counts();
    Json(state.stats.clone())
}

/// `GET {link url}`: what a payer sees at Stripe, reduced to the amount and whether it takes
/// payment.
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
    if object["active"] != Value::Bool(true) {
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
        "<h1>{}</h1><p class=\"amount\" data-amount=\"{}\">{}.{:02} {}</p><p>Test mode: no real payment is taken.</p>",
        escape(&link.product_name),
        link.amount,
        link.amount / 100,
        link.amount % 100,
        escape(&currency.to_uppercase()),
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
