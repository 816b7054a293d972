//! Stripe's objects as the stand-in builds them: every field Stripe's own example objects carry,
//! so a strict client (async-stripe) parses them as it would parse Stripe's.

use serde_json::{Value, json};

/// A Stripe-looking id: prefix, underscore, 24 random alphanumerics.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_alphanumerics(24))
}

/// `n` random ASCII letters and digits.
pub fn random_alphanumerics(n: usize) -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn product(id: &str, name: &str, description: Option<&str>, metadata: Value) -> Value {
    json!({
        "id": id,
        "object": "product",
        "active": true,
        "created": now(),
        "default_price": null,
        "description": description,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "type": "service",
        "unit_label": null,
        "updated": now(),
        "url": null
    })
}

pub fn price(
    id: &str,
    product: &str,
    currency: &str,
    unit_amount: i64,
    active: bool,
    metadata: Value,
) -> Value {
    json!({
        "id": id,
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": metadata,
        "nickname": null,
        "product": product,
        "recurring": null,
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string()
    })
}

pub fn line_item(price: &Value, quantity: i64, description: &str) -> Value {
    let amount = price["unit_amount"].as_i64().unwrap_or(0) * quantity;
    json!({
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": null,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": description,
        "metadata": {},
        "price": price,
        "quantity": quantity
    })
}

/// The parts of a Payment Link that come from the create request.
pub struct LinkParams<'a> {
    pub id: &'a str,
    pub url: String,
    pub currency: &'a str,
    /// `always` or `if_required` (Stripe's default when the request names none).
    pub customer_creation: &'a str,
    pub params: &'a Value,
}

/// A Payment Link's `after_completion` from its create or update parameters (checked before).
pub fn after_completion(params: &Value) -> Value {
    let after = &params["after_completion"];
    match after["type"].as_str() {
        Some("redirect") => json!({
            "type": "redirect",
            "redirect": {"url": after["redirect"]["url"]}
        }),
        _ => json!({
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": after["hosted_confirmation"]["custom_message"]}
        }),
    }
}

pub fn payment_link(p: LinkParams<'_>) -> Value {
    let params = p.params;
    let intent = &params["payment_intent_data"];
    let payment_intent_data = if intent.is_object() {
        json!({
            "capture_method": intent.get("capture_method"),
            "description": intent.get("description"),
            "metadata": intent.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "setup_future_usage": intent.get("setup_future_usage"),
            "statement_descriptor": intent.get("statement_descriptor"),
            "statement_descriptor_suffix": intent.get("statement_descriptor_suffix"),
            "transfer_group": intent.get("transfer_group")
        })
    } else {
        Value::Null
    };
    let restrictions = match params["restrictions"]["completed_sessions"]["limit"].as_str() {
        Some(limit) => json!({"completed_sessions": {
            "count": 0,
            "limit": limit.parse::<i64>().unwrap_or(0)
        }}),
        None => Value::Null,
    };
    json!({
        "id": p.id,
        "object": "payment_link",
        "active": true,
        "after_completion": after_completion(params),
        "allow_promotion_codes": params["allow_promotion_codes"].as_str() == Some("true"),
        "application": null,
        "application_fee_amount": null,
        "application_fee_percent": null,
        "automatic_tax": {"enabled": false, "liability": null},
        "billing_address_collection": params["billing_address_collection"].as_str().unwrap_or("auto"),
        "consent_collection": null,
        "currency": p.currency,
        "custom_fields": [],
        "custom_text": no_custom_text(),
        "customer_creation": p.customer_creation,
        "inactive_message": params.get("inactive_message"),
        "invoice_creation": null,
        "livemode": false,
        "metadata": metadata_of(params),
        "on_behalf_of": null,
        "payment_intent_data": payment_intent_data,
        "payment_method_collection": "always",
        "payment_method_options": null,
        "payment_method_types": null,
        "phone_number_collection": {"enabled": false},
        "restrictions": restrictions,
        "shipping_address_collection": null,
        "shipping_options": [],
        "submit_type": params["submit_type"].as_str().unwrap_or("auto"),
        "subscription_data": null,
        "tax_id_collection": {"enabled": false, "required": "never"},
        "transfer_data": null,
        "url": p.url
    })
}

/// A webhook endpoint as every read returns it: `secret` is added to the create answer only.
pub fn webhook_endpoint(
    id: &str,
    url: &str,
    enabled_events: Value,
    api_version: Option<&str>,
    description: Option<&str>,
    metadata: Value,
) -> Value {
    json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": null,
        "created": now(),
        "description": description,
        "enabled_events": enabled_events,
        "livemode": false,
        "metadata": metadata,
        "status": "enabled",
        "url": url
    })
}

/// `custom_text` of a link, and of its sessions, that sets none.
pub fn no_custom_text() -> Value {
    json!({
        "after_submit": null,
        "shipping_address": null,
        "submit": null,
        "terms_of_service_acceptance": null
    })
}

/// `metadata` as Stripe returns it: an object, empty when none was sent.
pub fn metadata_of(params: &Value) -> Value {
    match &params["metadata"] {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    }
}

/// A list object, as every Stripe list endpoint returns.
pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}
