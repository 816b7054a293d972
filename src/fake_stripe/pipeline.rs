//! What happens to every API request before and after its endpoint runs, in Stripe's order:
//! authentication, the per-endpoint rate limit, idempotency (replay, conflict, in-flight),
//! parameter checks, injected failures, then the operation, then added latency.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::FakeStripe;
use super::error::StripeError;
use super::form;
use super::spec::Spec;
use super::state::{Saved, State};

/// One API call: which endpoint (as counted in stats), its raw parameters, and the spec they
/// must meet.
pub struct Call<'a> {
    pub endpoint: &'static str,
    pub headers: &'a HeaderMap,
    pub raw_params: &'a str,
    pub spec: &'a Spec,
}

impl<'a> Call<'a> {
    pub fn new(
        endpoint: &'static str,
        headers: &'a HeaderMap,
        raw_params: &'a str,
        spec: &'a Spec,
    ) -> Self {
        Self {
            endpoint,
            headers,
            raw_params,
            spec,
        }
    }
}

/// Runs `op` under the stand-in's rules and turns the result into Stripe's response.
pub async fn run(
    fake: &Arc<FakeStripe>,
    call: Call<'_>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Response {
    let (status, body, replayed, latency) = {
        let mut state = fake.lock();
        let config = &state.config;
        let slow = config.slow_rate > 0.0 && rand::random::<f64>() < config.slow_rate;
        let latency = config.latency_ms + if slow { config.slow_ms } else { 0 };
        *state
            .stats
            .requests
            .entry(call.endpoint.to_owned())
            .or_default() += 1;
        match execute(&mut state, &call, op) {
            Ok((status, body, replayed)) => (status, body, replayed, latency),
            Err(err) => (err.status, err.body, false, latency),
        }
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert("request-id", HeaderValue::from_static("req_fake"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if status == 429 {
        headers.insert("stripe-should-retry", HeaderValue::from_static("true"));
        headers.insert("retry-after", HeaderValue::from_static("1"));
    }
    response
}

fn execute(
    state: &mut State,
    call: &Call<'_>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Result<(u16, Value, bool), StripeError> {
    authenticate(call.headers)?;
    if !state.admit(call.endpoint) {
        state.stats.rate_limited += 1;
        return Err(StripeError::rate_limited());
    }
    let key = call
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|_| call.endpoint.starts_with("POST"))
        .map(str::to_owned);
    let fingerprint = format!("{} {}", call.endpoint, call.raw_params);
    if let Some(key) = &key
        && let Some(saved) = state.idempotency.get(key)
    {
        if saved.fingerprint != fingerprint {
            return Err(key_reused(key));
        }
        let replay = (saved.status, saved.body.clone(), true);
        state.stats.idempotent_replays += 1;
        return Ok(replay);
    }
    let outcome = checked_op(state, call, op);
    if let Some(key) = key {
        match &outcome {
            // Stripe saves what ran (a success or a 500) and nothing for a refused request.
            Ok(body) => save(state, key, fingerprint, 200, body.clone()),
            Err(err) if err.status >= 500 => {
                save(state, key, fingerprint, err.status, err.body.clone())
            }
            Err(_) => {}
        }
    }
    outcome.map(|body| (200, body, false))
}

fn checked_op(
    state: &mut State,
    call: &Call<'_>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Result<Value, StripeError> {
    let params = form::parse(call.raw_params)
        .map_err(|message| StripeError::invalid("parameter_invalid", &message, None))?;
    call.spec
        .check(&params, "")
        .map_err(|e| StripeError::invalid(e.code, &e.message, Some(&e.param)))?;
    if state.inject_failure() {
        return Err(StripeError::server());
    }
    op(state, &params)
}

fn save(state: &mut State, key: String, fingerprint: String, status: u16, body: Value) {
    state.idempotency.insert(
        key,
        Saved {
            fingerprint,
            status,
            body,
        },
    );
}

fn authenticate(headers: &HeaderMap) -> Result<(), StripeError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(key) if key.starts_with("sk_test_") => Ok(()),
        _ => Err(StripeError::unauthorized()),
    }
}

fn key_reused(key: &str) -> StripeError {
    StripeError::new(
        400,
        "idempotency_error",
        Some("idempotency_key_in_use"),
        &format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
        ),
        None,
    )
}
