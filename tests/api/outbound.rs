//! Outbound webhooks (docs/webhooks.md): what a host application's
//! receiver, a real HTTP server here (tests/api/outbound_receiver.rs), gets from paylink.
//!
//! The retry tests that need a whole schedule to pass shorten `outbound.retry_schedule_secs`
//! (the shipped one spans 28 hours); the code path is the same, and the shipped schedule's first
//! wait is checked on its own. Timeouts and everything else run at the shipped defaults.

use std::time::Duration;

use paylink_core::store::{outbound_delivery, outbound_event};
use paylink_testkit::{AppOptions, TestApp, eventually, spawn_app, spawn_app_with};
use sea_orm::EntityTrait as _;
use serde_json::{Value, json};

use crate::outbound_receiver::{Answer, Delivery, Receiver};

/// Registers an endpoint and returns the API's answer (with the one-time secret).
pub(crate) async fn register(app: &TestApp, url: &str, events: Option<&[&str]>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let response = app.post_json("/v1/webhook_endpoints", &body).await;
    assert_eq!(response.status(), 201, "POST /v1/webhook_endpoints");
    response.json().await.expect("json")
}

pub(crate) fn secret_of(endpoint: &Value) -> String {
    endpoint["secret"].as_str().expect("a secret").to_owned()
}

/// Waits up to `within` for the receiver to hold deliveries meeting `done`.
pub(crate) async fn received(
    receiver: &Receiver,
    within: Duration,
    done: impl Fn(&[Delivery]) -> bool,
) -> Vec<Delivery> {
    eventually(within, || async {
        let got = receiver.deliveries();
        done(&got).then_some(got)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the receiver did not get what was expected within {within:?}; it got: {:#?}",
            receiver
                .deliveries()
                .iter()
                .map(|d| (d.event_type().to_owned(), d.json["data"]["id"].clone()))
                .collect::<Vec<_>>()
        )
    })
}

fn count(deliveries: &[Delivery], event_type: &str, subject: &str) -> usize {
    deliveries
        .iter()
        .filter(|d| d.event_type() == event_type && d.json["data"]["id"] == subject)
        .count()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn app_with_schedule(schedule: &str) -> AppOptions {
    AppOptions {
        settings: vec![("outbound.retry_schedule_secs", json!(schedule))],
        ..AppOptions::default()
    }
}

#[tokio::test]
async fn every_event_reaches_the_receiver_once_signed_and_with_what_get_shows() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = register(&app, &receiver.url(), None).await;
    let secret = secret_of(&endpoint);
    assert!(id(&endpoint).starts_with("we_"), "{endpoint}");
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    assert_eq!(endpoint["events"], Value::Null, "all events");

    let product = app.create_product("monthly").await;
    let paid = app.create_order(&product, 2500).await;
    let paid = app.wait_until_settled(&id(&paid)).await;
    app.complete_checkout(paid["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    let cancelled = app.create_order(&product, 3000).await;
    let cancelled = app.wait_until_settled(&id(&cancelled)).await;
    assert_eq!(
        app.post_json(&format!("/v1/orders/{}/cancel", id(&cancelled)), &json!({}))
            .await
            .status(),
        200
    );
    // Under Stripe's minimum: refused, so failed.
    let refused = app.create_order(&product, 10).await;
    let blast =
        crate::blasts::post_blast(&app, "outbound", crate::blasts::rows(&product, 3, "out")).await;

    let (paid_id, cancelled_id, refused_id, blast_id) =
        (id(&paid), id(&cancelled), id(&refused), id(&blast));
    let got = received(&receiver, Duration::from_secs(30), |d| {
        count(d, "order.paid", &paid_id) == 1
            && count(d, "order.cancelled", &cancelled_id) == 1
            && count(d, "order.failed", &refused_id) == 1
            && count(d, "blast.completed", &blast_id) == 1
    })
    .await;

    for delivery in &got {
        assert!(
            delivery.verifies_with(&secret),
            "signature of {}",
            delivery.body
        );
        assert_eq!(
            delivery.json["id"],
            delivery.id.as_str(),
            "webhook-id is the event's id"
        );
        let keys: Vec<&String> = delivery
            .json
            .as_object()
            .expect("an object")
            .keys()
            .collect();
        assert_eq!(
            keys,
            ["data", "id", "timestamp", "type"],
            "{}",
            delivery.body
        );
        let sent_at: i64 = delivery.timestamp.parse().expect("unix seconds");
        assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 300);
    }
    readme_lines_verify(&got[0], &secret);
    let ids: std::collections::HashSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        got.len(),
        "each event once (the receiver answered 204)"
    );

    // Links: one per order minted (the refused one has none), in order before the payment.
    for order in [&paid_id, &cancelled_id] {
        assert_eq!(count(&got, "order.link_ready", order), 1, "{order}");
    }
    assert_eq!(count(&got, "order.link_ready", &refused_id), 0);
    let position = |t: &str| {
        got.iter()
            .position(|d| d.event_type() == t && d.json["data"]["id"] == paid_id.as_str())
            .expect("delivered")
    };
    assert!(position("order.link_ready") < position("order.paid"));

    // `data` is the order as `GET /v1/orders/{id}` showed it at the change.
    let event = |t: &str, order: &str| {
        got.iter()
            .find(|d| d.event_type() == t && d.json["data"]["id"] == order)
            .expect("delivered")
            .json["data"]
            .clone()
    };
    let paid_now = app.get_order(&paid_id).await;
    let paid_data = event("order.paid", &paid_id);
    for field in [
        "id",
        "external_ref",
        "pay_url",
        "amount_cents",
        "paid_at",
        "stripe_checkout_session_id",
    ] {
        assert_eq!(paid_data[field], paid_now[field], "{field}");
    }
    assert_eq!(paid_data["status"], "paid");
    assert_eq!(
        event("order.link_ready", &paid_id)["stripe_payment_link_url"],
        paid["stripe_payment_link_url"]
    );
    assert_eq!(
        event("order.cancelled", &cancelled_id)["status"],
        "cancelled"
    );
    let failed = event("order.failed", &refused_id);
    assert_eq!(failed["link_state"], "failed");
    assert!(
        failed["last_error"].as_str().unwrap().contains("amount"),
        "{failed}"
    );
    // The order's story on the dashboard says what the application was told.
    let page = app.admin_page(&format!("/admin/orders/{paid_id}")).await;
    for told in [
        "Your application was told: order.link_ready (delivered to 1 endpoint(s))",
        "Your application was told: order.paid (delivered to 1 endpoint(s))",
    ] {
        assert!(page.contains(told), "{told}:\n{page}");
    }
    let completed = event("blast.completed", &blast_id);
    assert_eq!(completed["size"], 3);
    assert_eq!(completed["counts"]["minting"], 0);
    assert_eq!(completed["counts"]["active"], 3, "{completed}");
    for row in ["out-0", "out-1", "out-2"] {
        assert!(
            got.iter()
                .any(|d| d.event_type() == "order.link_ready"
                    && d.json["data"]["external_ref"] == row),
            "{row}"
        );
    }
}

#[tokio::test]
async fn a_receiver_answering_500_twice_gets_the_event_on_the_third_try() {
    let app = spawn_app_with(app_with_schedule("1,1,1")).await;
    let receiver = Receiver::start().await;
    receiver.script(&[Answer::Status(500), Answer::Status(500)]);
    register(&app, &receiver.url(), Some(&["order.link_ready"])).await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 4000).await;

    let got = received(&receiver, Duration::from_secs(30), |d| d.len() >= 3).await;
    assert!(
        got.iter().all(|d| d.id == got[0].id),
        "one event, three tries"
    );
    assert_eq!(got[0].json["data"]["id"], order["id"]);
    let row = eventually(Duration::from_secs(10), || async {
        let rows = outbound_delivery::Entity::find().all(&app.db).await.ok()?;
        (rows.len() == 1 && rows[0].state == outbound_delivery::State::Delivered)
            .then(|| rows[0].clone())
    })
    .await
    .expect("delivered on the third try");
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_status, Some(204));
    for pair in got.windows(2) {
        let gap = (pair[1].at - pair[0].at).num_milliseconds();
        assert!(gap >= 850, "each retry waits its ~1 s (±10%): {gap} ms");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.deliveries().len(), 3, "nothing after the 2xx");
}

#[tokio::test]
async fn at_the_shipped_schedule_a_failed_try_is_made_again_five_seconds_later() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.script(&[Answer::Status(503)]);
    register(&app, &receiver.url(), None).await;
    let product = app.create_product("jersey").await;
    app.create_order(&product, 4000).await;

    let got = received(&receiver, Duration::from_secs(20), |d| d.len() >= 2).await;
    assert_eq!(got[0].id, got[1].id);
    let gap = (got[1].at - got[0].at).num_milliseconds();
    // 5 s ± 10%, plus up to one 200 ms poll of the dispatcher and the try itself (with room
    // for a loaded machine): the shipped first wait, not the 300 s of the next.
    assert!((4_400..=7_500).contains(&gap), "{gap} ms");
}

#[tokio::test]
async fn a_receiver_down_past_the_last_try_fails_then_replay_delivers_the_same_message() {
    let app = spawn_app_with(app_with_schedule("1,1")).await;
    let mut receiver = Receiver::start().await;
    receiver.stop().await;
    let endpoint = register(&app, &receiver.url(), Some(&["order.link_ready"])).await;
    let endpoint_id = id(&endpoint);
    let before = chrono::Utc::now();
    let product = app.create_product("jersey").await;
    let first = app.create_order(&product, 4000).await;

    let failed = eventually(Duration::from_secs(30), || async {
        let rows = outbound_delivery::Entity::find().all(&app.db).await.ok()?;
        rows.into_iter()
            .find(|r| r.state == outbound_delivery::State::Failed)
    })
    .await
    .expect("the delivery fails after its three tries");
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.last_status, None);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("connect"),
        "{failed:?}"
    );
    let listed = app.webhook_endpoints().await;
    assert_eq!(listed["data"][0]["state"], "failing", "{listed}");
    let page = app.admin_page("/admin/webhooks").await;
    assert!(page.contains("Gave up after 3 tries"), "{page}");
    assert!(
        page.contains(&format!("/admin/orders/{}", id(&first))),
        "{page}"
    );
    assert!(page.contains("Failing since"), "{page}");
    let story = app
        .admin_page(&format!("/admin/orders/{}", id(&first)))
        .await;
    assert!(
        story.contains("Your application was told: order.link_ready (1 gave up: "),
        "{story}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("paylink_outbound_endpoints_failing 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paylink_outbound_deliveries{state=\"failed\"} 1"),
        "{metrics}"
    );

    // While failing, new events are still recorded for the endpoint.
    let second = app.create_order(&product, 4100).await;
    app.wait_until_settled(&id(&second)).await;
    let rows = eventually(Duration::from_secs(10), || async {
        let rows = outbound_delivery::Entity::find().all(&app.db).await.ok()?;
        (rows.len() == 2).then_some(rows)
    })
    .await
    .expect("a delivery for the second order too");
    assert!(rows.iter().all(|r| r.endpoint_id == endpoint_id));

    receiver.listen().await;
    let response = app
        .post_json(
            &format!("/v1/webhook_endpoints/{endpoint_id}/replay"),
            &json!({ "since": before.to_rfc3339() }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let replay: Value = response.json().await.unwrap();
    assert_eq!(replay["replayed"], 2, "{replay}");

    let got = received(&receiver, Duration::from_secs(20), |d| {
        count(d, "order.link_ready", &id(&first)) >= 1
            && count(d, "order.link_ready", &id(&second)) >= 1
    })
    .await;
    let events = outbound_event::Entity::find().all(&app.db).await.unwrap();
    let first_event = events
        .iter()
        .find(|e| e.order_id.as_deref() == Some(id(&first).as_str()))
        .expect("the first order's event");
    let first_delivery = got
        .iter()
        .find(|d| d.json["data"]["id"] == id(&first))
        .unwrap();
    assert_eq!(
        first_delivery.id, first_event.id,
        "the same webhook-id as the failed tries"
    );
    assert!(first_delivery.verifies_with(&secret_of(&endpoint)));
    let listed = eventually(Duration::from_secs(10), || async {
        let listed: Value = app
            .get_json("/v1/webhook_endpoints")
            .await
            .json()
            .await
            .ok()?;
        (listed["data"][0]["state"] == "enabled").then_some(listed)
    })
    .await;
    assert!(
        listed.is_some(),
        "a delivery that succeeds clears the failing mark"
    );
}

#[tokio::test]
async fn the_events_filter_holds_and_bad_endpoints_are_422() {
    let app = spawn_app().await;
    let (all, paid_only) = (Receiver::start().await, Receiver::start().await);
    register(&app, &all.url(), None).await;
    let filtered = register(&app, &paid_only.url(), Some(&["order.paid", "order.paid"])).await;
    assert_eq!(
        filtered["events"],
        json!(["order.paid"]),
        "duplicates dropped"
    );

    let order = app.minted_order("tournament", 2000).await;
    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    let order_id = id(&order);
    received(&all, Duration::from_secs(30), |d| {
        count(d, "order.paid", &order_id) == 1
    })
    .await;
    received(&paid_only, Duration::from_secs(10), |d| {
        count(d, "order.paid", &order_id) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(count(&all.deliveries(), "order.link_ready", &order_id) == 1);
    let types: Vec<String> = paid_only
        .deliveries()
        .iter()
        .map(|d| d.event_type().to_owned())
        .collect();
    assert_eq!(types, ["order.paid"]);

    for (body, says) in [
        (json!({"url": "ftp://example.com/hook"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://"}), "url"),
        (
            json!({"url": "https://example.com/", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/", "events": ["order.refunded"]}),
            "order.refunded",
        ),
        (
            json!({"url": "https://example.com/", "secret": "mine"}),
            "secret",
        ),
    ] {
        let response = app.post_json("/v1/webhook_endpoints", &body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status == 422 || status == 400, "{body}: {status} {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let listed = app.webhook_endpoints().await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "nothing registered by bad requests"
    );
    let missing = app
        .client
        .delete(app.url("/v1/webhook_endpoints/we_nope"))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad_since = app
        .post_json(
            &format!("/v1/webhook_endpoints/{}/replay", id(&filtered)),
            &json!({"since": "yesterday"}),
        )
        .await;
    assert_eq!(bad_since.status(), 422);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_overlap_and_only_the_new_after() {
    for (overlap, both) in [(None, true), (Some(0), false)] {
        let mut options = AppOptions::default();
        if let Some(secs) = overlap {
            options
                .settings
                .push(("outbound.secret_overlap_secs", json!(secs)));
        }
        let app = spawn_app_with(options).await;
        let receiver = Receiver::start().await;
        let endpoint = register(&app, &receiver.url(), Some(&["order.link_ready"])).await;
        let old = secret_of(&endpoint);
        let response = app
            .post_json(
                &format!("/v1/webhook_endpoints/{}/rotate_secret", id(&endpoint)),
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let rotated: Value = response.json().await.unwrap();
        let new = secret_of(&rotated);
        assert_ne!(old, new);
        let product = app.create_product("jersey").await;
        app.create_order(&product, 4000).await;
        let got = received(&receiver, Duration::from_secs(30), |d| !d.is_empty()).await;
        let delivery = &got[0];
        assert!(delivery.verifies_with(&new), "the new secret signs");
        assert_eq!(
            delivery.verifies_with(&old),
            both,
            "overlap {overlap:?}: {}",
            delivery.signature
        );
        assert_eq!(
            delivery.signature.split(' ').count(),
            if both { 2 } else { 1 }
        );
    }
}

#[tokio::test]
async fn one_endpoint_hanging_for_its_whole_timeout_does_not_delay_another() {
    const ORDERS: usize = 20;
    let app = spawn_app().await;
    let (hanging, fast) = (Receiver::start().await, Receiver::start().await);
    hanging.always(Answer::Hang);
    register(&app, &hanging.url(), Some(&["order.link_ready"])).await;
    register(&app, &fast.url(), Some(&["order.link_ready"])).await;
    let product = app.create_product("jersey").await;
    let started = chrono::Utc::now();
    crate::blasts::post_blast(&app, "hang", crate::blasts::rows(&product, ORDERS, "hang")).await;

    let got = received(&fast, Duration::from_secs(30), |d| d.len() >= ORDERS).await;
    let last = got.iter().map(|d| d.at).max().unwrap();
    // The hanging endpoint's first tries time out 15 s after they were sent (the shipped
    // timeout); every delivery to the other endpoint arrived well before that.
    let worst_lag = got
        .iter()
        .map(|d| {
            let written: chrono::DateTime<chrono::Utc> =
                d.json["timestamp"].as_str().unwrap().parse().unwrap();
            (d.at - written).num_milliseconds()
        })
        .max()
        .unwrap();
    eprintln!("a healthy endpoint beside a hanging one: worst lag {worst_lag} ms");
    assert!(
        worst_lag < 7_500,
        "worst lag of the healthy endpoint: {worst_lag} ms (half the hanging one's timeout)"
    );
    assert!(
        (last - started).num_seconds() < 15,
        "all {ORDERS} before the first timeout"
    );
    let held = hanging.deliveries().len();
    assert!(
        (1..=16).contains(&held),
        "the hanging endpoint holds at most its share: {held}"
    );
}

/// docs/webhooks.md's lines for checking a signature ("Checking the signature"), Python and Rust,
/// run against a real delivery: they accept it, and refuse it with one byte of the body changed.
fn readme_lines_verify(delivery: &Delivery, secret: &str) {
    let readme = include_str!("../../docs/webhooks.md");
    let section = &readme[readme
        .find("### Checking the signature")
        .expect("the section")..];
    let block = |fence: &str| {
        let start = section.find(fence).expect("a code block") + fence.len();
        section[start..start + section[start..].find("```").expect("closed")].to_owned()
    };
    let python = block("```python\n");
    let tampered = delivery.body.replacen("\"id\"", "\"Id\"", 1);
    for (body, accepted) in [(&delivery.body, true), (&tampered, false)] {
        let program = format!(
            "import base64, hashlib, hmac, json, sys, time\n\
             secret = {secret:?}\nh = json.loads(sys.argv[1])\nbody = sys.argv[2]\n{python}\
             sys.exit(0 if ok else 1)\n"
        );
        let headers = json!({
            "webhook-id": delivery.id,
            "webhook-timestamp": delivery.timestamp,
            "webhook-signature": delivery.signature,
        });
        let status = std::process::Command::new("python3")
            .args(["-c", &program, &headers.to_string(), body])
            .status()
            .expect("python3 runs (the CI installs it)");
        assert_eq!(status.success(), accepted, "python on {body}");
    }

    let rust = block("```rust\n");
    assert!(
        rust.contains("standardwebhooks::Webhook::new(&secret)?")
            && rust.contains("verify(&body, &headers)?")
    );
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in [
        ("webhook-id", &delivery.id),
        ("webhook-timestamp", &delivery.timestamp),
        ("webhook-signature", &delivery.signature),
    ] {
        headers.insert(name, value.parse().expect("a header value"));
    }
    let webhook = standardwebhooks::Webhook::new(secret).expect("the secret decodes");
    webhook
        .verify(delivery.body.as_bytes(), &headers)
        .expect("the crate verifies it");
    assert!(webhook.verify(tampered.as_bytes(), &headers).is_err());
}

#[tokio::test]
async fn an_orders_events_arrive_in_order_even_when_the_first_needs_a_retry() {
    let app = spawn_app_with(app_with_schedule("2")).await;
    let receiver = Receiver::start().await;
    receiver.script(&[Answer::Status(500)]);
    register(&app, &receiver.url(), None).await;
    let order = app.minted_order("jersey", 2600).await;
    let order_id = id(&order);
    // The first try of order.link_ready failed; pay before its retry is due.
    received(&receiver, Duration::from_secs(10), |d| d.len() == 1).await;
    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    app.wait_until_settled(&order_id).await;
    let got = received(&receiver, Duration::from_secs(20), |d| {
        count(d, "order.paid", &order_id) == 1
    })
    .await;
    let types: Vec<&str> = got.iter().map(Delivery::event_type).collect();
    assert_eq!(
        types,
        ["order.link_ready", "order.link_ready", "order.paid"],
        "the paid event waited for the retried link_ready"
    );
    let paid_written: chrono::DateTime<chrono::Utc> =
        got[2].json["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        paid_written < got[1].at,
        "order.paid was written while order.link_ready still waited for its retry"
    );
}
