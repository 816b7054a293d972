//! What happens to every API request before and after its endpoint runs, in Stripe's order:
//! authentication, the per-endpoint and account rate limits, idempotency (in-flight, expiry,
//! replay, conflict), parameter checks, injected failures, then the operation, injected failures
//! after it, then added latency, and only then the result is saved for its key.

use std::sync::Arc;
use std::time::{Duration, Instant};

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

    /// A GET call, its parameters in the query string (none when there is no query).
    pub fn query(
        endpoint: &'static str,
        headers: &'a HeaderMap,
        query: &'a Option<String>,
        spec: &'a Spec,
    ) -> Self {
        Self::new(
            endpoint,
            headers,
            query.as_deref().unwrap_or_default(),
            spec,
        )
    }
}

/// What the endpoint answers.
struct Answer {
    status: u16,
    body: Value,
    replayed: bool,
    /// The idempotency key and the result to save for it once the answer has left.
    save: Option<(String, Saved)>,
}

impl From<StripeError> for Answer {
    fn from(err: StripeError) -> Self {
        Self {
            status: err.status,
            body: err.body,
            replayed: false,
            save: None,
        }
    }
}

/// An idempotency key whose first request has run but not yet answered (added latency, a slow
/// request): a retry with it meanwhile gets 409. Dropping this saves the result and frees the
/// key, also when the client hung up first and the response future was dropped mid-sleep.
struct InFlight {
    fake: Arc<FakeStripe>,
    key: String,
    saved: Option<Saved>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.fake.lock();
        state.in_flight.remove(&self.key);
        if let Some(saved) = self.saved.take() {
            state
                .idempotency
                .insert(std::mem::take(&mut self.key), saved);
        }
    }
}

/// Runs `op` under the stand-in's rules and turns the result into Stripe's response.
pub async fn run(
    fake: &Arc<FakeStripe>,
    call: Call<'_>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Response {
    let (mut answer, latency) = {
        let mut state = fake.lock();
        let config = &state.config;
        let slow = config.slow_rate > 0.0 && rand::random::<f64>() < config.slow_rate;
        let latency = config.latency_ms + if slow { config.slow_ms } else { 0 };
        *state
            .stats
            .requests
            .entry(call.endpoint.to_owned())
            .or_default() += 1;
        let answer = execute(&mut state, &call, op).unwrap_or_else(Answer::from);
        (answer, latency)
    };
    let in_flight = answer.save.take().map(|(key, saved)| InFlight {
        fake: fake.clone(),
        key,
        saved: Some(saved),
    });
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    drop(in_flight);
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(answer.body),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert("request-id", HeaderValue::from_static("req_fake"));
    if answer.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    // Stripe sends no `Retry-After` with a 429: clients back off on their own.
    if answer.status == 429 {
        headers.insert("stripe-should-retry", HeaderValue::from_static("true"));
    }
    // And `false` with most 500s, a replay's included: the same key would only replay the 500
    // (Stripe's Node library, `_shouldRetry`). A new key is what helps.
    if answer.status >= 500 {
        headers.insert("stripe-should-retry", HeaderValue::from_static("false"));
    }
    response
}

fn execute(
    state: &mut State,
    call: &Call<'_>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Result<Answer, StripeError> {
    let key = authenticate(call.headers, &state.config.api_keys)?;
    check_version(call.headers)?;
    check_permission(&key, call.endpoint, &state.config.key_permissions)?;
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
    // Stripe compares a retry's parameters, not their order on the wire (a client that builds
    // metadata from a hash map sends its keys in any order): compare them parsed, keys sorted.
    let parsed = form::parse(call.raw_params);
    let fingerprint = match &parsed {
        Ok(params) => format!("{} {params}", call.endpoint),
        Err(_) => format!("{} {}", call.endpoint, call.raw_params),
    };
    if let Some(key) = &key
        && let Some(replay) = replay(state, key, &fingerprint)?
    {
        return Ok(replay);
    }
    let first_use = Instant::now();
    let (status, body) = match checked_op(state, call, parsed, op) {
        Ok(body) => (200, body),
        Err(err) => (err.status, err.body),
    };
    // Stripe saves what ran (a success or a 500) and nothing for a refused request.
    let save = key.filter(|_| status == 200 || status >= 500).map(|key| {
        state.in_flight.insert(key.clone());
        let saved = Saved {
            fingerprint,
            status,
            body: body.clone(),
            at: first_use,
        };
        (key, saved)
    });
    Ok(Answer {
        status,
        body,
        replayed: false,
        save,
    })
}

/// The saved answer for `key`, if any and not yet expired; an error while the key's first
/// request is still going, or when the key was first used with other parameters.
fn replay(state: &mut State, key: &str, fingerprint: &str) -> Result<Option<Answer>, StripeError> {
    if state.in_flight.contains(key) {
        return Err(in_progress(key));
    }
    let ttl = Duration::from_secs(state.config.idempotency_ttl_secs);
    if state
        .idempotency
        .get(key)
        .is_some_and(|s| s.at.elapsed() >= ttl)
    {
        state.idempotency.remove(key);
    }
    let Some(saved) = state.idempotency.get(key) else {
        return Ok(None);
    };
    if saved.fingerprint != fingerprint {
        return Err(key_reused(key));
    }
    let answer = Answer {
        status: saved.status,
        body: saved.body.clone(),
        replayed: true,
        save: None,
    };
    state.stats.idempotent_replays += 1;
    Ok(Some(answer))
}

fn checked_op(
    state: &mut State,
    call: &Call<'_>,
    parsed: Result<Value, String>,
    op: impl FnOnce(&mut State, &Value) -> Result<Value, StripeError>,
) -> Result<Value, StripeError> {
    let params =
        parsed.map_err(|message| StripeError::invalid("parameter_invalid", &message, None))?;
    call.spec
        .check(&params, "")
        .map_err(|e| StripeError::invalid(e.code, &e.message, Some(&e.param)))?;
    if state.inject_failure() {
        return Err(StripeError::server());
    }
    let body = op(state, &params)?;
    if state.inject_failure_after() {
        return Err(StripeError::server());
    }
    Ok(body)
}

/// Stripe's authentication: a bearer key the account holds. Here that is any test key
/// (`sk_test_…`, or a restricted `rk_test_…`), or only `api_keys` when that is set; live keys
/// never (the stand-in is test mode only).
/// The request's key, when the stand-in takes it.
fn authenticate(headers: &HeaderMap, api_keys: &[String]) -> Result<String, StripeError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .map(str::to_owned)
                .or_else(|| v.strip_prefix("Basic ").and_then(basic_user))
        });
    let Some(key) = token.as_deref().filter(|key| !key.is_empty()) else {
        return Err(StripeError::no_api_key());
    };
    let test_key = key.starts_with("sk_test_") || key.starts_with("rk_test_");
    let held = api_keys.is_empty() || api_keys.iter().any(|k| k == key);
    if test_key && held {
        Ok(key.to_owned())
    } else {
        Err(StripeError::invalid_api_key(key))
    }
}

/// The permission `endpoint` (`GET /v1/events`) needs of a restricted key: the resource's
/// `rak_…_read` for a GET, `rak_…_write` for the rest.
fn permission_for(endpoint: &str) -> String {
    let (method, path) = endpoint.split_once(' ').unwrap_or(("GET", endpoint));
    let resource = match path.trim_start_matches("/v1/") {
        p if p.starts_with("payment_links") => "payment_link",
        p if p.starts_with("checkout/sessions") => "checkout_session",
        p if p.starts_with("events") => "event",
        p if p.starts_with("webhook_endpoints") => "webhook_endpoint",
        p if p.starts_with("prices") => "price",
        p if p.starts_with("products") => "product",
        other => other.split('/').next().unwrap_or(other),
    };
    let access = if method == "GET" { "read" } else { "write" };
    format!("rak_{resource}_{access}")
}

/// A restricted key given a set of permissions may only do what they allow (write includes
/// read); any other key, everything.
fn check_permission(
    key: &str,
    endpoint: &str,
    permissions: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), StripeError> {
    let Some(given) = permissions.get(key) else {
        return Ok(());
    };
    let needed = permission_for(endpoint);
    let write = needed.replace("_read", "_write");
    if given.iter().any(|p| *p == needed || *p == write) {
        Ok(())
    } else {
        Err(StripeError::missing_permission(key, &needed))
    }
}

/// A `Stripe-Version` that names a version Stripe published, or none (the account's default).
fn check_version(headers: &HeaderMap) -> Result<(), StripeError> {
    match headers.get("stripe-version") {
        None => Ok(()),
        Some(value) => {
            let version = String::from_utf8_lossy(value.as_bytes());
            if crate::versions::known(version.trim()) {
                Ok(())
            } else {
                Err(StripeError::invalid_version(&version))
            }
        }
    }
}

/// The user of HTTP Basic credentials (`curl -u sk_test_…:` sends the key so, with an empty
/// password, and Stripe takes it as the key).
fn basic_user(encoded: &str) -> Option<String> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or_default().to_owned())
}

/// Stripe's answer to a retry that arrives while the key's first request is still going:
/// nothing is saved for it, so the retry after that gets the first request's result.
fn in_progress(key: &str) -> StripeError {
    StripeError::new(
        409,
        "idempotency_error",
        Some("idempotency_key_in_use"),
        &format!(
            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
        ),
        None,
    )
}

/// Stripe's answer to a key used again with other parameters. Its `idempotency_key_in_use`
/// code belongs to the in-progress case; this one has none.
fn key_reused(key: &str) -> StripeError {
    StripeError::new(
        400,
        "idempotency_error",
        None,
        &format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
        ),
        None,
    )
}
