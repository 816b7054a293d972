//! The Stripe API endpoints paylink calls, answered from the stand-in's memory.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeStripe;
use super::error::StripeError;
use super::lists;
use super::objects::{self, LinkParams};
use super::pipeline::{Call, run};
use super::spec;
use super::state::{LinkRecord, State};

type Fake = AxumState<Arc<FakeStripe>>;

/// Currencies the stand-in accepts, with Stripe's minimum charge in minor units.
const CURRENCIES: &[(&str, i64)] = &[
    ("usd", 50),
    ("eur", 50),
    ("gbp", 30),
    ("cad", 50),
    ("aud", 50),
    ("nzd", 50),
    ("chf", 50),
    ("sek", 300),
    ("nok", 300),
    ("dkk", 250),
    ("jpy", 50),
    ("sgd", 50),
    ("hkd", 400),
    ("mxn", 1000),
    ("brl", 50),
    ("inr", 50),
    ("pln", 200),
    ("czk", 1500),
];

pub async fn create_product(AxumState(fake): Fake, headers: HeaderMap, body: String) -> Response {
    let call = Call::new("POST /v1/products", &headers, &body, &spec::CREATE_PRODUCT);
    run(&fake, call, |state, p| {
        let name = p["name"]
            .as_str()
            .ok_or_else(|| StripeError::missing("name"))?;
        let id = p["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| objects::new_id("prod"));
        let product = objects::product(
            &id,
            name,
            p["description"].as_str(),
            objects::metadata_of(p),
        );
        state.products.insert(id, product.clone());
        Ok(product)
    })
    .await
}

pub async fn create_price(AxumState(fake): Fake, headers: HeaderMap, body: String) -> Response {
    let call = Call::new("POST /v1/prices", &headers, &body, &spec::CREATE_PRICE);
    run(&fake, call, |state, p| {
        let price = new_price(state, p, "", p["active"].as_str() != Some("false"))?;
        Ok(price)
    })
    .await
}

pub async fn get_price(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query("GET /v1/prices/{id}", &headers, &q, &spec::RETRIEVE);
    run(&fake, call, |state, _| {
        state
            .prices
            .get(&id)
            .cloned()
            .ok_or_else(|| StripeError::no_such("price", &id, "id"))
    })
    .await
}

pub async fn create_payment_link(
    AxumState(fake): Fake,
    headers: HeaderMap,
    body: String,
) -> Response {
    let base = fake.base_url.clone();
    let call = Call::new(
        "POST /v1/payment_links",
        &headers,
        &body,
        &spec::CREATE_PAYMENT_LINK,
    );
    run(&fake, call, move |state, p| {
        let items = p["line_items"].as_array().filter(|i| !i.is_empty()).ok_or_else(|| StripeError::missing("line_items"))?;
        let mut line_items = Vec::new();
        let mut amount: i64 = 0;
        let mut product_name = String::new();
        for (i, item) in items.iter().enumerate() {
            let param = format!("line_items[{i}]");
            let quantity = int(&item["quantity"]).ok_or_else(|| StripeError::missing(&format!("{param}[quantity]")))?;
            let price = match (item["price"].as_str(), item.get("price_data")) {
                (Some(id), None) => state.prices.get(id).cloned().ok_or_else(|| StripeError::no_such("price", id, &format!("{param}[price]")))?,
                (None, Some(data)) => new_price(state, data, &format!("{param}[price_data]"), false)?,
                _ => return Err(StripeError::invalid("parameter_missing", &format!("You must specify exactly one of {param}[price] or {param}[price_data]."), Some(&param))),
            };
            let name = state.products.get(price["product"].as_str().unwrap_or_default()).and_then(|p| p["name"].as_str()).unwrap_or("item").to_owned();
            amount = price["unit_amount"]
                .as_i64()
                .unwrap_or(0)
                .checked_mul(quantity)
                .and_then(|line| amount.checked_add(line))
                .ok_or_else(|| StripeError::invalid("parameter_invalid_integer", "The total amount is too large.", Some(&format!("{param}[quantity]"))))?;
            if i == 0 {
                product_name = name.clone();
            }
            line_items.push(objects::line_item(&price, quantity, &name));
        }
        let currency = line_items[0]["currency"].as_str().unwrap_or("usd").to_owned();
        let minimum = CURRENCIES.iter().find(|(c, _)| *c == currency).map(|(_, m)| *m).unwrap_or(50);
        if amount < minimum {
            return Err(StripeError::invalid(
                "amount_too_small",
                &format!("The payment link's total amount due must add up to at least {minimum} {currency} (in the currency's smallest unit); it adds up to {amount}."),
                Some("line_items"),
            ));
        }
        check_after_completion(p)?;
        let id = objects::new_id("plink");
        // `drop_customer_creation`: the link comes back with Stripe's default, whatever was asked.
        let customer_creation = match p["customer_creation"].as_str() {
            Some(asked) if !state.config.drop_customer_creation => asked,
            _ => "if_required",
        };
        let object = objects::payment_link(LinkParams { id: &id, url: format!("{base}/b/{id}"), currency: &currency, customer_creation, params: p });
        state.links.insert(id.clone(), LinkRecord { object: object.clone(), line_items, product_name, amount });
        state.link_order.push(id);
        Ok(object)
    })
    .await
}

pub async fn get_payment_link(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query("GET /v1/payment_links/{id}", &headers, &q, &spec::RETRIEVE);
    run(&fake, call, |state, _| {
        link(state, &id).map(|l| l.object.clone())
    })
    .await
}

pub async fn update_payment_link(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let call = Call::new(
        "POST /v1/payment_links/{id}",
        &headers,
        &body,
        &spec::UPDATE_PAYMENT_LINK,
    );
    run(&fake, call, |state, p| {
        let record = state
            .links
            .get_mut(&id)
            .ok_or_else(|| StripeError::no_such("payment_link", &id, "id"))?;
        let object = &mut record.object;
        if let Some(active) = p["active"].as_str() {
            object["active"] = json!(active == "true");
        }
        if let Some(message) = p["inactive_message"].as_str() {
            object["inactive_message"] = json!(message);
        }
        if p.get("after_completion").is_some() {
            check_after_completion(p)?;
            object["after_completion"] = objects::after_completion(p);
        }
        if p.get("metadata").is_some() {
            object["metadata"] = objects::metadata_of(p);
        }
        if let Some(limit) = int(&p["restrictions"]["completed_sessions"]["limit"]) {
            let count = object["restrictions"]["completed_sessions"]["count"]
                .as_i64()
                .unwrap_or(0);
            object["restrictions"] =
                json!({"completed_sessions": {"count": count, "limit": limit}});
        }
        Ok(object.clone())
    })
    .await
}

pub async fn list_line_items(
    AxumState(fake): Fake,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query(
        "GET /v1/payment_links/{id}/line_items",
        &headers,
        &q,
        &spec::LIST,
    );
    run(&fake, call, |state, _| {
        let items = link(state, &id)?.line_items.clone();
        Ok(objects::list(
            &format!("/v1/payment_links/{id}/line_items"),
            items,
            false,
        ))
    })
    .await
}

pub async fn list_payment_links(
    AxumState(fake): Fake,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::query("GET /v1/payment_links", &headers, &q, &spec::LIST);
    run(&fake, call, |state, p| {
        let active = p["active"].as_str().map(|a| a == "true");
        let stored = state
            .link_order
            .iter()
            .filter_map(|id| state.links.get(id))
            .map(|l| &l.object);
        lists::page("/v1/payment_links", "payment_link", stored, p, |l| {
            active.is_none_or(|a| l["active"] == json!(a))
        })
    })
    .await
}

/// `after_completion` as Stripe checks it: a `type`, and a valid `redirect[url]` when that
/// type is `redirect`.
fn check_after_completion(p: &Value) -> Result<(), StripeError> {
    let after = &p["after_completion"];
    if after.is_null() {
        return Ok(());
    }
    let Some(kind) = after["type"].as_str() else {
        return Err(StripeError::missing("after_completion[type]"));
    };
    let url = after["redirect"]["url"].as_str();
    if kind == "redirect" && url.is_none() {
        return Err(StripeError::missing("after_completion[redirect][url]"));
    }
    if let Some(url) = url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(StripeError::invalid(
            "url_invalid",
            "Not a valid URL",
            Some("after_completion[redirect][url]"),
        ));
    }
    Ok(())
}

fn link<'a>(state: &'a State, id: &str) -> Result<&'a LinkRecord, StripeError> {
    state
        .links
        .get(id)
        .ok_or_else(|| StripeError::no_such("payment_link", id, "id"))
}

fn int(value: &Value) -> Option<i64> {
    value.as_str().and_then(|s| s.parse().ok())
}

/// Creates a Price from `price_data`-shaped parameters (prices created inline are inactive, as
/// at Stripe). `param` prefixes parameter names in errors.
fn new_price(
    state: &mut State,
    p: &Value,
    param: &str,
    active: bool,
) -> Result<Value, StripeError> {
    let name = |field: &str| {
        if param.is_empty() {
            field.to_owned()
        } else {
            format!("{param}[{field}]")
        }
    };
    let currency = p["currency"]
        .as_str()
        .ok_or_else(|| StripeError::missing(&name("currency")))?;
    if !CURRENCIES.iter().any(|(c, _)| *c == currency) {
        return Err(StripeError::invalid(
            "parameter_invalid_string",
            &format!(
                "Invalid currency: {currency}. Stripe currently supports these currencies: {}",
                CURRENCIES
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(&name("currency")),
        ));
    }
    let unit_amount = int(&p["unit_amount"])
        .or_else(|| {
            p["unit_amount_decimal"]
                .as_str()
                .and_then(|d| d.parse::<f64>().ok())
                .map(|d| d.round() as i64)
        })
        .ok_or_else(|| StripeError::missing(&name("unit_amount")))?;
    if unit_amount < 0 {
        return Err(StripeError::invalid(
            "parameter_invalid_integer",
            "This value must be greater than or equal to 0.",
            Some(&name("unit_amount")),
        ));
    }
    if unit_amount > 99_999_999 {
        return Err(StripeError::invalid(
            "parameter_invalid_integer",
            "This value must be less than or equal to 99999999.",
            Some(&name("unit_amount")),
        ));
    }
    let product = match (p["product"].as_str(), p.get("product_data")) {
        (Some(id), _) => {
            if !state.products.contains_key(id) {
                return Err(StripeError::no_such("product", id, &name("product")));
            }
            id.to_owned()
        }
        (None, Some(data)) => {
            let product_name = data["name"]
                .as_str()
                .ok_or_else(|| StripeError::missing(&format!("{}[name]", name("product_data"))))?;
            let id = objects::new_id("prod");
            state.products.insert(
                id.clone(),
                objects::product(
                    &id,
                    product_name,
                    data["description"].as_str(),
                    objects::metadata_of(data),
                ),
            );
            id
        }
        (None, None) => return Err(StripeError::missing(&name("product"))),
    };
    let id = objects::new_id("price");
    let price = objects::price(
        &id,
        &product,
        currency,
        unit_amount,
        active,
        objects::metadata_of(p),
    );
    state.prices.insert(id, price.clone());
    Ok(price)
}
