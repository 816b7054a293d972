//! `POST /webhooks/stripe` and the `stripe_event` / `deactivate_link` jobs, driven through the
//! stand-in's checkout completions and signed deliveries.

use std::time::Duration;

use serde_json::{Value, json};

use paylink_testkit::{
    AppOptions, Stack, TestApp, WEBHOOK_SECRET, WEBHOOK_SECRET_2, eventually, sign, spawn_app,
    spawn_app_with,
};

/// A `checkout.session.completed` event for `order` (as Stripe would send for its link).
pub(crate) fn completed_event(order: &Value, payment_status: &str) -> Value {
    json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "livemode": false,
        "data": {"object": {
            "id": format!("cs_test_{}", uuid::Uuid::new_v4().simple()),
            "object": "checkout.session",
            "payment_link": order["stripe_payment_link_id"],
            "payment_intent": "pi_test_1",
            "customer": "cus_test_1",
            "payment_status": payment_status,
            "metadata": {"order_id": order["id"]}
        }}
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An app whose workers are off, so deliveries are only stored: the intake alone is under test.
async fn intake_only() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

async fn assert_refused(response: reqwest::Response, status: u16, says: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_delivery_is_stored_and_marks_the_order_paid() {
    let app = spawn_app().await;
    let order = app.minted_order("jersey", 3000).await;
    let event = completed_event(&order, "paid");

    let response = app.send_stripe_webhook(&event).await;

    assert_eq!(response.status(), 200);
    let id = order["id"].as_str().unwrap();
    let paid = app
        .wait_for_order(id, "paid", |o| o["status"] == "paid")
        .await;
    assert!(paid["paid_at"].is_string());
    let event_id = event["id"].as_str().unwrap();
    eventually(Duration::from_secs(10), || async {
        app.event_outcome(event_id).await.filter(|o| o == "paid")
    })
    .await
    .expect("the event is recorded as processed");
}

/// Stripe's schema allows `metadata: null` on a Checkout Session (and expanded objects for its
/// ids): the payment still finds its order, by the Payment Link it came through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_with_null_metadata_pays_the_order_through_its_link() {
    let app = spawn_app().await;
    let order = app.minted_order("monthly", 3000).await;
    let mut event = completed_event(&order, "paid");
    event["data"]["object"]["metadata"] = Value::Null;
    event["data"]["object"]["customer"] = json!({"id": "cus_expanded", "object": "customer"});

    let response = app.send_stripe_webhook(&event).await;

    assert_eq!(response.status(), 200);
    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "paid and closed", |o| {
        o["status"] == "paid" && o["link_state"] == "deactivated"
    })
    .await;
    let row = paylink_core::store::order::find(&app.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.stripe_customer_id.as_deref(), Some("cus_expanded"));
    let event_id = event["id"].as_str().unwrap();
    eventually(Duration::from_secs(10), || async {
        app.event_outcome(event_id).await.filter(|o| o == "paid")
    })
    .await
    .expect("the event is recorded as paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_get_400_and_store_nothing() {
    let app = intake_only().await;
    let event = json!({"id": "evt_test_refused", "type": "checkout.session.completed", "data": {"object": {}}});
    let body = event.to_string();
    let signed = sign(WEBHOOK_SECRET, now(), &body);

    // A tampered body.
    let tampered = body.replace("refused", "accepted");
    assert_refused(
        app.send_webhook_raw(&tampered, Some(&signed)).await,
        400,
        "no v1 signature matches",
    )
    .await;
    // The wrong secret.
    let wrong = sign("whsec_not_ours", now(), &body);
    assert_refused(
        app.send_webhook_raw(&body, Some(&wrong)).await,
        400,
        "no v1 signature matches",
    )
    .await;
    // A timestamp outside the 300 s tolerance, in either direction.
    let old = sign(WEBHOOK_SECRET, now() - 301, &body);
    assert_refused(
        app.send_webhook_raw(&body, Some(&old)).await,
        400,
        "outside the tolerance",
    )
    .await;
    let future = sign(WEBHOOK_SECRET, now() + 400, &body);
    assert_refused(
        app.send_webhook_raw(&body, Some(&future)).await,
        400,
        "outside the tolerance",
    )
    .await;
    // No header at all.
    assert_refused(
        app.send_webhook_raw(&body, None).await,
        400,
        "missing Stripe-Signature",
    )
    .await;
    // A header that is not Stripe's format.
    assert_refused(
        app.send_webhook_raw(&body, Some("sha256=abc")).await,
        400,
        "malformed",
    )
    .await;
    // Correctly signed, but not JSON / not an event.
    let broken = "{\"id\": \"evt_1\", ";
    assert_refused(
        app.send_webhook_raw(broken, Some(&sign(WEBHOOK_SECRET, now(), broken)))
            .await,
        400,
        "malformed event JSON",
    )
    .await;
    let not_event = "{\"hello\": 1}";
    assert_refused(
        app.send_webhook_raw(not_event, Some(&sign(WEBHOOK_SECRET, now(), not_event)))
            .await,
        400,
        "malformed event JSON",
    )
    .await;

    assert_eq!(app.count_rows("stripe_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_matching_v1_and_any_configured_secret_is_accepted() {
    let app = intake_only().await;
    let first =
        json!({"id": "evt_test_two_v1", "type": "customer.created", "data": {"object": {}}})
            .to_string();
    let good = sign(WEBHOOK_SECRET, now(), &first);
    let good_v1 = good.split_once("v1=").unwrap().1;
    let two = format!("t={},v1={},v1={good_v1}", now(), "ab".repeat(32));
    assert_eq!(app.send_webhook_raw(&first, Some(&two)).await.status(), 200);

    let second =
        json!({"id": "evt_test_rolled", "type": "customer.created", "data": {"object": {}}})
            .to_string();
    let rolled = sign(WEBHOOK_SECRET_2, now(), &second);
    assert_eq!(
        app.send_webhook_raw(&second, Some(&rolled)).await.status(),
        200
    );

    assert_eq!(app.count_rows("stripe_events").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_and_stores_nothing() {
    let app = intake_only().await;
    let padding = "x".repeat(1024 * 1024 + 1);
    let body =
        json!({"id": "evt_big", "type": "customer.created", "data": {"object": {"pad": padding}}})
            .to_string();
    let response = app
        .send_webhook_raw(&body, Some(&sign(WEBHOOK_SECRET, now(), &body)))
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count_rows("stripe_events").await, 0);
}

async fn the_same_event_delivered_ten_times_at_once_is_processed_once(stack: Stack) {
    let app = spawn_app_with(AppOptions::on(stack)).await;
    let order = app.minted_order("monthly", 4500).await;
    let event = completed_event(&order, "paid");

    let deliveries = (0..10).map(|_| app.send_stripe_webhook(&event));
    let responses = futures::future::join_all(deliveries).await;

    assert!(responses.iter().all(|r| r.status() == 200));
    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "deactivated", |o| o["link_state"] == "deactivated")
        .await;
    assert_eq!(app.count_rows("stripe_events").await, 1);
    // Any duplicate work has run once every job has.
    app.drain_jobs().await;
    let stats = app.fake_stats().await;
    assert_eq!(
        stats["requests"]["POST /v1/payment_links/{id}"], 1,
        "one deactivate request: {stats}"
    );
    assert_eq!(app.get_order(id).await["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_success_before_the_completion_is_paid_once() {
    let app = spawn_app().await;
    let order = app.minted_order("tournament", 8000).await;
    let mut succeeded = completed_event(&order, "paid");
    succeeded["type"] = json!("checkout.session.async_payment_succeeded");
    let completed = completed_event(&order, "unpaid");

    assert_eq!(app.send_stripe_webhook(&succeeded).await.status(), 200);
    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "deactivated", |o| o["link_state"] == "deactivated")
        .await;
    assert_eq!(app.send_stripe_webhook(&completed).await.status(), 200);

    let completed_id = completed["id"].as_str().unwrap();
    let outcome = eventually(Duration::from_secs(10), || async {
        app.event_outcome(completed_id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("awaiting_async_payment"));
    let order = app.get_order(id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links/{id}"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_completion_that_fails_gets_a_fresh_link_behind_the_same_pay_url() {
    let app = spawn_app().await;
    let order = app.minted_order("monthly", 4500).await;
    let id = order["id"].as_str().unwrap();
    let first_link = order["stripe_payment_link_id"].as_str().unwrap().to_owned();

    let session = app.complete_checkout(&first_link, "unpaid").await;
    // The stand-in delivers its event; once stored, every job it causes has run after a drain.
    eventually(Duration::from_secs(20), || async {
        (app.count_rows("stripe_events").await == 1).then_some(())
    })
    .await
    .expect("the completion's event arrived");
    app.drain_jobs().await;
    assert_eq!(
        app.get_order(id).await["status"],
        "pending",
        "an unpaid completion waits"
    );
    app.settle(&session, "failed").await;

    let renewed = app
        .wait_for_order(id, "a new link", |o| {
            o["link_state"] == "active"
                && o["stripe_payment_link_id"].as_str() != Some(first_link.as_str())
        })
        .await;
    assert_eq!(renewed["status"], "pending");
    assert_eq!(renewed["link_generation"], 1);
    assert_eq!(
        renewed["pay_url"], order["pay_url"],
        "the payer's URL never changes"
    );
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(click.status(), 303);
    let location = click.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        renewed["stripe_payment_link_url"].as_str().unwrap()
    );
    let page = app
        .client
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(">Pay<"), "the new link takes payment: {page}");
    // The switch-off is its own job, handed off after the new mint's (the exhausted link takes
    // no payment meanwhile: its one completed session is used up), so it may still be queued.
    eventually(Duration::from_secs(20), || async {
        let old = app.stripe_get(&format!("payment_links/{first_link}")).await;
        (old["active"] == false).then_some(())
    })
    .await
    .expect("the exhausted link is switched off");
    assert_eq!(app.stripe_links_for(id).await.len(), 2);
}

async fn the_whole_loop_closes_links_by_category(stack: Stack) {
    let app = spawn_app_with(AppOptions::on(stack)).await;
    let mut orders = Vec::new();
    for category in ["monthly", "tournament", "jersey", "tryout", "generic"] {
        let order = app.minted_order(category, 2500).await;
        app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
            .await;
        orders.push((category, order));
    }

    for (category, order) in &orders {
        let id = order["id"].as_str().unwrap();
        let closes = matches!(*category, "monthly" | "tournament");
        let paid = if closes {
            app.wait_for_order(id, "paid and deactivated", |o| {
                o["status"] == "paid" && o["link_state"] == "deactivated"
            })
            .await
        } else {
            app.wait_for_order(id, "paid", |o| o["status"] == "paid")
                .await
        };
        assert!(paid["paid_at"].is_string());
        let link = app
            .stripe_get(&format!(
                "payment_links/{}",
                order["stripe_payment_link_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(
            link["active"], !closes,
            "{category}: link active = {}",
            link["active"]
        );
        if !closes {
            assert_eq!(paid["link_state"], "active", "{category}");
        }
    }
    // Only the two closing categories were switched off.
    app.drain_jobs().await;
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links/{id}"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_a_paid_orders_pay_url_shows_the_paid_page() {
    let app = spawn_app().await;
    let order = app.minted_order("tournament", 6000).await;
    let link = order["stripe_payment_link_id"].as_str().unwrap();
    app.complete_checkout(link, "paid").await;
    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "paid", |o| o["status"] == "paid")
        .await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 200);
    assert!(
        click
            .text()
            .await
            .unwrap()
            .contains("This payment has been made")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_orders_and_unhandled_types_are_recorded_not_retried() {
    let app = spawn_app().await;
    let stranger = json!({"id": "ord_nobody", "stripe_payment_link_id": "plink_nobody"});
    let unknown = completed_event(&stranger, "paid");
    let unhandled = json!({"id": "evt_test_customer", "type": "customer.created", "data": {"object": {"id": "cus_1"}}});

    assert_eq!(app.send_stripe_webhook(&unknown).await.status(), 200);
    assert_eq!(app.send_stripe_webhook(&unhandled).await.status(), 200);

    let unknown_id = unknown["id"].as_str().unwrap();
    let outcome = eventually(Duration::from_secs(10), || async {
        app.event_outcome(unknown_id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("unknown_order"));
    let outcome = eventually(Duration::from_secs(10), || async {
        app.event_outcome("evt_test_customer").await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("ignored"));
}

/// A live-mode event reaching a deployment whose key is a test key (a live endpoint's secret
/// left in its settings) settles nothing, and the operator sees why; the same payment in the
/// key's own mode then settles as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_the_other_mode_settles_nothing_and_is_listed() {
    let app = spawn_app().await;
    let order = app.minted_order("jersey", 3000).await;
    let mut live = completed_event(&order, "paid");
    live["livemode"] = json!(true);
    live["data"]["object"]["livemode"] = json!(true);
    let live_id = live["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_stripe_webhook(&live).await.status(), 200);
    let outcome = eventually(Duration::from_secs(10), || async {
        app.event_outcome(&live_id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("wrong_mode"));
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(app.get_order(order_id).await["status"], "pending");
    let failures = app.admin_page("/admin/failures").await;
    assert!(failures.contains(&live_id), "{failures}");
    assert!(
        failures.contains("live-mode event, and paylink's key is a test-mode key"),
        "{failures}"
    );

    let test = completed_event(&order, "paid");
    assert_eq!(app.send_stripe_webhook(&test).await.status(), 200);
    let paid = eventually(Duration::from_secs(10), || async {
        let found = app.get_order(order_id).await;
        (found["status"] == "paid").then_some(found)
    })
    .await;
    assert!(paid.is_some(), "the test-mode payment settles");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_while_the_database_is_unavailable_gets_503() {
    let app = intake_only().await;
    app.db.close_by_ref().await.unwrap();

    let event =
        json!({"id": "evt_test_db_down", "type": "customer.created", "data": {"object": {}}});
    let response = app.send_stripe_webhook(&event).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_retries_a_delivery_the_endpoint_did_not_take() {
    let app = spawn_app().await;
    let order = app.minted_order("monthly", 4500).await;
    // Deliveries fail at first: the endpoint is somewhere nobody listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    app.fake_config(json!({"webhook_url": format!("http://{dead}/webhooks/stripe")}))
        .await;

    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    eventually(Duration::from_secs(10), || async {
        (app.fake_stats().await["event_delivery_failures"].as_u64() >= Some(1)).then_some(())
    })
    .await
    .expect("a delivery failed");
    app.fake_config(json!({"webhook_url": app.url("/webhooks/stripe")}))
        .await;

    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "paid after a retried delivery", |o| {
        o["status"] == "paid"
    })
    .await;
    assert_eq!(app.fake_stats().await["events_delivered"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_window_waits_in_the_database_then_is_processed() {
    let window = 10;
    let mut app = spawn_app_with(AppOptions {
        workers: false,
        window,
        ..AppOptions::default()
    })
    .await;
    let ids: Vec<String> = (0..25).map(|i| format!("evt_test_burst_{i}")).collect();

    for id in &ids {
        let event =
            json!({"id": id, "type": "customer.created", "data": {"object": {"id": "cus_1"}}});
        assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    }

    let due = app
        .engine
        .queue
        .due::<paylink_core::jobs::stripe_event::StripeEvent>()
        .await
        .unwrap();
    assert!(
        due <= window,
        "{due} stripe_event jobs due; the window is {window}"
    );
    assert_eq!(
        app.count_rows("stripe_events").await,
        25,
        "every delivery is stored"
    );
    app.start_workers();
    for id in &ids {
        let outcome = eventually(Duration::from_secs(20), || async {
            app.event_outcome(id).await
        })
        .await;
        assert_eq!(outcome.as_deref(), Some("ignored"), "{id}");
    }
}

paylink_testkit::on_every_stack!(
    the_same_event_delivered_ten_times_at_once_is_processed_once,
    the_whole_loop_closes_links_by_category,
);
