//! `paylink doctor --create-test-link`: one Payment Link per category, made by the code the mint
//! uses (`mint_link::link_request`, `StripeApi::create_payment_link`), read back from Stripe and
//! compared with what was asked, field by field; then switched off (unless kept for a test
//! payment). Test keys only: with a live key these would be real links.

use paylink_core::jobs::mint_link::{LinkFor, link_request};
use paylink_core::store::product::CATEGORIES;
use paylink_core::stripe::{LinkRequest, StripeApi};
use serde_json::Value;

use super::Report;
use crate::config::Settings;

/// Each test link charges this (in the currency's minor unit): above Stripe's minimum charge in
/// every currency it supports.
const AMOUNT: i64 = 1000;

/// Whether the test links stay on after the check, for a person to pay one with a test card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    SwitchOff,
    KeepOn,
}

pub async fn check(
    settings: &Settings,
    stripe: Option<&StripeApi>,
    currency: &str,
    keep: Keep,
    report: &mut Report,
) {
    let Some(stripe) = stripe else {
        report.skip("test links", "need a key Stripe accepts");
        return;
    };
    let policy = settings.policy();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut made = Vec::new();
    for category in CATEGORIES {
        let order_id = format!("doctor_{run}_{category}");
        let product_name = format!("paylink doctor: {category} test link");
        let request = link_request(
            &policy,
            &settings.public_base_url,
            &LinkFor {
                order_id: &order_id,
                generation: 0,
                amount_cents: AMOUNT,
                currency,
                pay_token: "doctor-test-link",
                product_name: &product_name,
                category,
            },
        );
        let check = format!("test link {category}");
        let key = format!("paylink-doctor-{run}-{category}");
        let link = match stripe.create_payment_link(&request, &key).await {
            Ok(link) => link,
            Err(e) => {
                report.fail(
                    &check,
                    format!("Stripe refused the link paylink would mint: {e}."),
                    "read Stripe's message: a parameter paylink sends is not accepted by this account; fix that before any blast.",
                );
                continue;
            }
        };
        let differences = compare(stripe, &link.id, &request).await;
        if differences.is_empty() {
            report.ok(
                &check,
                format!(
                    "{} {} as asked (amount, currency, metadata, customer_creation, setup_future_usage, restrictions, after_completion)",
                    link.id,
                    paylink_core::store::redact_url(&link.url)
                ),
            );
        } else {
            report.fail(
                &check,
                format!("{} differs from what paylink asked: {}.", link.id, differences.join("; ")),
                "Stripe did not take a parameter as paylink sends it: do not blast until this is understood (docs/stripe.md, \"Before your first blast\").",
            );
        }
        made.push((check, link.id));
    }
    if keep == Keep::KeepOn {
        report.warn(
            "test links",
            format!(
                "{} left on for a test payment: pay one with a test card (4242 4242 4242 4242), then switch them off in the Dashboard (Payment Links)",
                made.len()
            ),
        );
        return;
    }
    let mut off = 0;
    for (check, id) in &made {
        match stripe.deactivate_payment_link(id).await {
            Ok(()) => off += 1,
            Err(e) => report.fail(
                check,
                format!("{id} could not be switched off: {e}."),
                format!("switch it off in the Dashboard (Payment Links → {id} → Deactivate)."),
            ),
        }
    }
    report.ok(
        "test links",
        format!("{off} of {} switched off again", made.len()),
    );
}

/// What Stripe stored that differs from `asked`, one phrase per field.
async fn compare(stripe: &StripeApi, id: &str, asked: &LinkRequest) -> Vec<String> {
    let (link, items) = match (
        stripe.payment_link_json(id).await,
        stripe.payment_link_line_items(id).await,
    ) {
        (Ok(link), Ok(items)) => (link, items),
        (Err(e), _) | (_, Err(e)) => return vec![format!("it could not be read back ({e})")],
    };
    let mut out = Vec::new();
    let mut expect = |field: &str, got: &Value, want: Value| {
        if *got != want {
            out.push(format!("{field} is {got}, paylink asked for {want}"));
        }
    };
    let item = &items["data"][0];
    expect("active", &link["active"], Value::Bool(true));
    expect(
        "amount",
        &item["price"]["unit_amount"],
        Value::from(asked.amount_cents),
    );
    expect(
        "currency",
        &item["price"]["currency"],
        Value::from(asked.currency.clone()),
    );
    expect("quantity", &item["quantity"], Value::from(1));
    expect(
        "metadata.order_id",
        &link["metadata"]["order_id"],
        Value::from(asked.order_id.clone()),
    );
    expect(
        "metadata.link_generation",
        &link["metadata"]["link_generation"],
        Value::from(asked.generation.to_string()),
    );
    expect(
        "customer_creation",
        &link["customer_creation"],
        Value::from(if asked.save_card {
            "always"
        } else {
            "if_required"
        }),
    );
    expect(
        "payment_intent_data.setup_future_usage",
        &link["payment_intent_data"]["setup_future_usage"],
        if asked.save_card {
            Value::from("off_session")
        } else {
            Value::Null
        },
    );
    expect(
        "restrictions.completed_sessions.limit",
        &link["restrictions"]["completed_sessions"]["limit"],
        if asked.single_payment {
            Value::from(1)
        } else {
            Value::Null
        },
    );
    expect(
        "after_completion.type",
        &link["after_completion"]["type"],
        Value::from("redirect"),
    );
    expect(
        "after_completion.redirect.url",
        &link["after_completion"]["redirect"]["url"],
        Value::from(asked.redirect_url.clone()),
    );
    out
}
