//! Checkout Sessions, as a Payment Link makes them: one opens when a payer arrives (`open`,
//! `unpaid`), and completes when they pay, counted then against the link's completed-sessions
//! limit. Stripe lets a session that is open finish even after its link was switched off or
//! reached its limit, so only opening checks the link. Each object carries every field Stripe's
//! schema requires, so a strict client parses it as it would parse Stripe's.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeStripe;
use super::error::StripeError;
use super::lists;
use super::objects::{new_id, no_custom_text, now};
use super::pipeline::{Call, run};
use super::spec;
use super::state::State;

/// How long an open session stays payable, as Stripe's default.
const EXPIRES_AFTER_SECS: i64 = 24 * 60 * 60;

/// Why a payer's step was refused: the HTTP status of the `/_fake/` answer and a message.
pub type Refusal = (StatusCode, String);

/// A payer arrives at link `link_id`: opens a session on it, if the link takes payments (active
/// and under its completed-sessions limit). The new session's id.
pub fn open(state: &mut State, link_id: &str) -> Result<String, Refusal> {
    let Some(link) = state.links.get(link_id) else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("No such payment_link: '{link_id}'"),
        ));
    };
    if let Some(refusal) = closed(&link.object) {
        return Err(refusal);
    }
    let session = opened(&link.object, link.amount);
    let id = session["id"].as_str().unwrap_or_default().to_owned();
    state.sessions.insert(id.clone(), session);
    state.session_order.push(id.clone());
    Ok(id)
}

/// Why `link` (an object) takes no more payers, if it doesn't: switched off, or at its
/// completed-sessions limit.
pub fn closed(link: &Value) -> Option<Refusal> {
    let limit = &link["restrictions"]["completed_sessions"];
    if link["active"] != Value::Bool(true) {
        Some((
            StatusCode::CONFLICT,
            "This payment link is not active.".into(),
        ))
    } else if limit["limit"]
        .as_i64()
        .is_some_and(|l| limit["count"].as_i64().unwrap_or(0) >= l)
    {
        Some((
            StatusCode::CONFLICT,
            "This payment link has reached its completed sessions limit.".into(),
        ))
    } else {
        None
    }
}

/// The payer pays: completes open session `id` with `payment_status` (`paid`, or `unpaid` for a
/// delayed method that settles later) and counts it on its link. The completed session.
pub fn complete(state: &mut State, id: &str, payment_status: &str) -> Result<Value, Refusal> {
    let Some(session) = state.sessions.get_mut(id) else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("No such checkout.session: '{id}'"),
        ));
    };
    if session["status"] != "open" {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "This Checkout Session is {}, not open: only an open session completes.",
                session["status"].as_str().unwrap_or_default()
            ),
        ));
    }
    let link_id = session["payment_link"].as_str().unwrap_or_default();
    let link = state.links.get_mut(link_id);
    // Without a Customer (the default, `if_required`) the session names none.
    let creates_customer = link
        .as_ref()
        .is_some_and(|l| l.object["customer_creation"] == "always");
    if let Some(limit) = link.map(|l| &mut l.object["restrictions"]["completed_sessions"])
        && let Some(count) = limit["count"].as_i64()
    {
        limit["count"] = json!(count + 1);
    }
    session["status"] = json!("complete");
    session["payment_status"] = json!(payment_status);
    // Delayed methods complete `unpaid` with their PaymentIntent still processing.
    session["payment_intent"] = json!(new_id("pi"));
    session["customer"] = if creates_customer {
        json!(new_id("cus"))
    } else {
        Value::Null
    };
    session["customer_details"] = json!({
        "address": null,
        "business_name": null,
        "email": "payer@example.com",
        "individual_name": null,
        "name": "Test Payer",
        "phone": null,
        "tax_exempt": "none",
        "tax_ids": []
    });
    session["collected_information"] = json!({
        "business_name": null,
        "individual_name": null,
        "shipping_details": null
    });
    session["url"] = Value::Null;
    Ok(session.clone())
}

/// Fields of a session that Stripe returns as null for a payment-link session that has not
/// collected or created them (the payment-time ones are set by `complete`).
const NULL_UNTIL_COLLECTED: &[&str] = &[
    "after_expiration",
    "cancel_url",
    "client_reference_id",
    "client_secret",
    "collected_information",
    "consent",
    "consent_collection",
    "currency_conversion",
    "customer",
    "customer_account",
    "customer_details",
    "customer_email",
    "integration_identifier",
    "invoice",
    "invoice_creation",
    "locale",
    "origin_context",
    "payment_intent",
    "payment_method_configuration_details",
    "permissions",
    "recovered_from",
    "saved_payment_method_options",
    "setup_intent",
    "shipping_address_collection",
    "shipping_cost",
    "subscription",
    "wallet_options",
];

/// A session just opened on `link` (an object), for `amount` (the link's total). The link's
/// metadata is copied, as Stripe does.
fn opened(link: &Value, amount: i64) -> Value {
    let created = now();
    let mut session = json!({
        "id": new_id("cs_test"),
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": false},
        "allow_promotion_codes": link["allow_promotion_codes"],
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": link["billing_address_collection"],
        "created": created,
        "currency": link["currency"],
        "custom_fields": [],
        "custom_text": no_custom_text(),
        "customer_creation": link["customer_creation"],
        "discounts": [],
        "expires_at": created + EXPIRES_AFTER_SECS,
        "livemode": false,
        "metadata": link["metadata"],
        "mode": "payment",
        "payment_link": link["id"],
        "payment_method_collection": link["payment_method_collection"],
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": false},
        "shipping_options": [],
        "status": "open",
        "submit_type": link["submit_type"],
        "success_url": link["after_completion"]["redirect"]["url"],
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": link["url"]
    });
    if let Some(fields) = session.as_object_mut() {
        for field in NULL_UNTIL_COLLECTED {
            fields.insert((*field).to_owned(), Value::Null);
        }
    }
    session
}

type Fake = AxumState<Arc<FakeStripe>>;

/// `GET /v1/checkout/sessions/{id}`.
pub async fn retrieve(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query(
        "GET /v1/checkout/sessions/{id}",
        &headers,
        &q,
        &spec::RETRIEVE,
    );
    run(&fake, call, |state, _| {
        state
            .sessions
            .get(&id)
            .cloned()
            .ok_or_else(|| StripeError::no_such("checkout.session", &id, "id"))
    })
    .await
}

/// `GET /v1/checkout/sessions`: newest first, filtered by link, status, PaymentIntent, Customer
/// or creation time.
pub async fn list(AxumState(fake): Fake, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let call = Call::query(
        "GET /v1/checkout/sessions",
        &headers,
        &q,
        &spec::LIST_SESSIONS,
    );
    run(&fake, call, |state, p| {
        let stored = state
            .session_order
            .iter()
            .filter_map(|id| state.sessions.get(id));
        lists::page(
            "/v1/checkout/sessions",
            "checkout.session",
            stored,
            p,
            |s| {
                ["payment_link", "status", "payment_intent", "customer"]
                    .iter()
                    .all(|field| lists::field_matches(p, s, field))
                    && lists::created_matches(&p["created"], s["created"].as_i64().unwrap_or(0))
            },
        )
    })
    .await
}
