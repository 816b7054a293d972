//! Stripe's webhook endpoints (`/v1/webhook_endpoints`): created, listed newest first,
//! retrieved, updated and deleted as Stripe does, the signing `secret` answered once, on
//! creation, and never by a read. Every event goes to each enabled endpoint whose
//! `enabled_events` has `*` or its type, signed with that endpoint's secret, as well as to
//! `FakeConfig::webhook_url` (the tests' fixed URL, signed with `webhook_secret`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeStripe;
use super::error::StripeError;
use super::lists;
use super::objects;
use super::pipeline::{Call, run};
use super::spec;

type Fake = AxumState<Arc<FakeStripe>>;

pub async fn create(AxumState(fake): Fake, headers: HeaderMap, body: String) -> Response {
    let call = Call::new(
        "POST /v1/webhook_endpoints",
        &headers,
        &body,
        &spec::CREATE_WEBHOOK_ENDPOINT,
    );
    run(&fake, call, |state, p| {
        let url = p["url"]
            .as_str()
            .ok_or_else(|| StripeError::missing("url"))?;
        check_url(url)?;
        let enabled_events =
            enabled_events(p)?.ok_or_else(|| StripeError::missing("enabled_events"))?;
        let id = objects::new_id("we");
        let endpoint = objects::webhook_endpoint(
            &id,
            url,
            enabled_events,
            p["api_version"].as_str(),
            p["description"].as_str().filter(|d| !d.is_empty()),
            metadata(&json!({}), p),
        );
        state.webhook_endpoints.insert(id.clone(), endpoint.clone());
        state.webhook_endpoint_order.push(id.clone());
        // 32 random alphanumerics, as Stripe's signing secrets carry after `whsec_`.
        let secret = format!("whsec_{}", objects::random_alphanumerics(32));
        state.webhook_endpoint_secrets.insert(id, secret.clone());
        // The only answer that carries the signing secret.
        let mut created = endpoint;
        created["secret"] = json!(secret);
        Ok(created)
    })
    .await
}

pub async fn list(AxumState(fake): Fake, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let call = Call::query(
        "GET /v1/webhook_endpoints",
        &headers,
        &q,
        &spec::LIST_WEBHOOK_ENDPOINTS,
    );
    run(&fake, call, |state, p| {
        let stored = state
            .webhook_endpoint_order
            .iter()
            .filter_map(|id| state.webhook_endpoints.get(id));
        lists::page(
            "/v1/webhook_endpoints",
            "webhook endpoint",
            stored,
            p,
            |_| true,
        )
    })
    .await
}

pub async fn retrieve(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query(
        "GET /v1/webhook_endpoints/{id}",
        &headers,
        &q,
        &spec::RETRIEVE,
    );
    run(&fake, call, |state, _| {
        state
            .webhook_endpoints
            .get(&id)
            .cloned()
            .ok_or_else(|| missing(&id))
    })
    .await
}

pub async fn update(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let call = Call::new(
        "POST /v1/webhook_endpoints/{id}",
        &headers,
        &body,
        &spec::UPDATE_WEBHOOK_ENDPOINT,
    );
    run(&fake, call, |state, p| {
        let endpoint = state
            .webhook_endpoints
            .get_mut(&id)
            .ok_or_else(|| missing(&id))?;
        let url = p["url"].as_str();
        if let Some(url) = url {
            check_url(url)?;
        }
        let events = enabled_events(p)?;
        if let Some(url) = url {
            endpoint["url"] = json!(url);
        }
        if let Some(events) = events {
            endpoint["enabled_events"] = events;
        }
        if let Some(disabled) = p["disabled"].as_str() {
            endpoint["status"] = json!(if disabled == "true" {
                "disabled"
            } else {
                "enabled"
            });
        }
        if let Some(description) = p["description"].as_str() {
            // An empty value unsets it.
            endpoint["description"] = json!(Some(description).filter(|d| !d.is_empty()));
        }
        if p.get("metadata").is_some() {
            endpoint["metadata"] = metadata(&endpoint["metadata"], p);
        }
        Ok(endpoint.clone())
    })
    .await
}

pub async fn delete(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query(
        "DELETE /v1/webhook_endpoints/{id}",
        &headers,
        &q,
        &spec::NONE,
    );
    run(&fake, call, |state, _| {
        state
            .webhook_endpoints
            .remove(&id)
            .ok_or_else(|| missing(&id))?;
        state.webhook_endpoint_order.retain(|other| *other != id);
        state.webhook_endpoint_secrets.remove(&id);
        Ok(json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
    })
    .await
}

/// Stripe's 404 for an id it does not hold.
fn missing(id: &str) -> StripeError {
    StripeError::no_such("webhook endpoint", id, "id")
}

/// An absolute `http(s)://` URL with a host, as Stripe requires of an endpoint.
fn check_url(url: &str) -> Result<(), StripeError> {
    if url.is_empty() {
        return Err(StripeError::invalid(
            "parameter_invalid_empty",
            &spec::empty_message("url"),
            Some("url"),
        ));
    }
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(StripeError::invalid(
            "url_invalid",
            "Not a valid URL",
            Some("url"),
        )),
    }
}

/// `enabled_events[]` when sent (each already checked against Stripe's event types by the
/// spec, and an empty value refused there).
fn enabled_events(p: &Value) -> Result<Option<Value>, StripeError> {
    match &p["enabled_events"] {
        Value::Null => Ok(None),
        Value::Array(events) if events.is_empty() => Err(StripeError::missing("enabled_events")),
        events => Ok(Some(events.clone())),
    }
}

/// `metadata` after a request: each key set, or unset by an empty value; `metadata=` (empty)
/// unsets them all.
fn metadata(current: &Value, p: &Value) -> Value {
    let mut merged = match current {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    match &p["metadata"] {
        Value::Object(sent) => {
            for (key, value) in sent {
                if value.as_str().is_some_and(str::is_empty) {
                    merged.remove(key);
                } else {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        Value::String(s) if s.is_empty() => merged.clear(),
        _ => {}
    }
    Value::Object(merged)
}
