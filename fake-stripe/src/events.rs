//! Events: every one kept and listed by `GET /v1/events` (newest first, as Stripe lists them for
//! catching up on missed deliveries), and delivered the way Stripe does, to the configured
//! webhook URL and to every enabled endpoint registered through `/v1/webhook_endpoints` whose
//! `enabled_events` has `*` or the event's type: `Stripe-Signature: t=…,v1=…` with each
//! target's own secret, retried with backoff until it answers 2xx, each event and target on its
//! own (so deliveries may arrive out of order). `pending_webhooks` counts the targets not yet
//! answered.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::FakeStripe;
use super::error::StripeError;
use super::lists;
use super::objects::{new_id, now};
use super::pipeline::{Call, run};
use super::spec;
use super::state::State;

/// Delivery attempts per event before the stand-in gives up (Stripe keeps trying for days).
const DELIVERY_ATTEMPTS: u32 = 12;

/// Records a new event of `event_type` about `object`, as listed by `GET /v1/events`: the event,
/// and whether to deliver it (not when `deliver` is false or `drop_webhook_rate` drops it).
pub fn generate(
    state: &mut State,
    event_type: &str,
    object: &Value,
    deliver: bool,
) -> (Value, bool) {
    let targets = 1 + registered_targets(state, event_type).len();
    let event = json!({
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": now(),
        "data": {"object": object},
        "livemode": false,
        // Less one per target that took it; an event never delivered stays pending, as at
        // Stripe. The configured URL counts as one even while unset.
        "pending_webhooks": targets,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type
    });
    state.events.push(event.clone());
    state.stats.events_generated += 1;
    let rate = state.config.drop_webhook_rate;
    let dropped = !deliver || (rate > 0.0 && rand::random::<f64>() < rate);
    state.stats.events_dropped += u64::from(dropped);
    (event, !dropped)
}

/// Stripe's signature header for `payload` at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, payload: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    Some(format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// The registered endpoints `event_type` goes to: enabled, and `*` or the type among their
/// `enabled_events`; each with its signing secret.
fn registered_targets(state: &State, event_type: &str) -> Vec<(String, String)> {
    state
        .webhook_endpoint_order
        .iter()
        .filter_map(|id| {
            let endpoint = state.webhook_endpoints.get(id)?;
            let wanted = endpoint["status"] == "enabled"
                && endpoint["enabled_events"].as_array().is_some_and(|events| {
                    events
                        .iter()
                        .any(|e| e == "*" || e.as_str() == Some(event_type))
                });
            let secret = state.webhook_endpoint_secrets.get(id)?;
            let url = endpoint["url"].as_str()?;
            wanted.then(|| (url.to_owned(), secret.clone()))
        })
        .collect()
}

/// Where one delivery goes.
#[derive(Clone)]
enum Target {
    /// `FakeConfig::webhook_url` with `webhook_secret`, read again at each attempt.
    Configured,
    /// An endpoint registered through `/v1/webhook_endpoints`: its URL and secret.
    Registered { url: String, secret: String },
}

/// Delivers `event` in the background to every target, retrying each until it takes it.
pub fn deliver(fake: Arc<FakeStripe>, event: Value) {
    let registered = {
        let state = fake.lock();
        registered_targets(&state, event["type"].as_str().unwrap_or_default())
    };
    for (url, secret) in registered {
        tokio::spawn(deliver_to(
            fake.clone(),
            event.clone(),
            Target::Registered { url, secret },
        ));
    }
    tokio::spawn(deliver_to(fake, event, Target::Configured));
}

async fn deliver_to(fake: Arc<FakeStripe>, event: Value, target: Target) {
    let payload = event.to_string();
    let client = reqwest::Client::new();
    let configured = matches!(target, Target::Configured);
    for attempt in 0..DELIVERY_ATTEMPTS {
        if attempt > 0 {
            let backoff = Duration::from_millis(100u64 << attempt.min(6));
            tokio::time::sleep(backoff).await;
        }
        let (url, secret) = match &target {
            Target::Configured => {
                let state = fake.lock();
                (
                    state.config.webhook_url.clone(),
                    state.config.webhook_secret.clone(),
                )
            }
            Target::Registered { url, secret } => (Some(url.clone()), Some(secret.clone())),
        };
        let (Some(url), Some(secret)) = (url, secret) else {
            continue;
        };
        let Some(header) = signature(&secret, now(), &payload) else {
            continue;
        };
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("stripe-signature", header)
            .body(payload.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let mut state = fake.lock();
        match sent {
            Ok(response) if response.status().is_success() => {
                if configured {
                    state.stats.events_delivered += 1;
                } else {
                    state.stats.endpoint_deliveries += 1;
                }
                if let Some(stored) = state
                    .events
                    .iter_mut()
                    .rev()
                    .find(|e| e["id"] == event["id"])
                {
                    let pending = stored["pending_webhooks"].as_u64().unwrap_or(1);
                    stored["pending_webhooks"] = json!(pending.saturating_sub(1));
                }
                return;
            }
            _ if configured => state.stats.event_delivery_failures += 1,
            _ => state.stats.endpoint_delivery_failures += 1,
        }
    }
    tracing::warn!(event = %event["id"], "the stand-in gave up delivering an event");
}

/// `GET /v1/events`: every event generated, delivered or not, newest first.
pub async fn list(
    AxumState(fake): AxumState<Arc<FakeStripe>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query("GET /v1/events", &headers, &q, &spec::LIST_EVENTS);
    run(&fake, call, |state, p| {
        let types: Option<Vec<&str>> = match (&p["type"], &p["types"]) {
            (Value::String(_), Value::Array(_)) => {
                return Err(StripeError::one_of(&["type", "types"]));
            }
            (Value::String(one), _) => Some(vec![one.as_str()]),
            (_, Value::Array(many)) => Some(many.iter().filter_map(Value::as_str).collect()),
            _ => None,
        };
        let delivered = p["delivery_success"].as_str().map(|d| d == "true");
        lists::page("/v1/events", "event", state.events.iter(), p, |event| {
            types.as_ref().is_none_or(|types| {
                let event_type = event["type"].as_str().unwrap_or_default();
                types.iter().any(|t| type_matches(t, event_type))
            }) && lists::created_matches(&p["created"], event["created"].as_i64().unwrap_or(0))
                && delivered.is_none_or(|d| (event["pending_webhooks"] == 0) == d)
        })
    })
    .await
}

/// Whether `event_type` is `pattern`, where `pattern` may end in `*` for a group of events
/// (`checkout.session.*`).
fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => event_type == pattern,
    }
}
