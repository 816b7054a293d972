//! What a pay URL lets its holder spend (docs/security.md): the return page never waits for
//! Stripe and reads it at most once per order a minute; clicks on a link not minted yet share
//! one Stripe create; and no request outlives `http.request_timeout_secs`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use fake_stripe::FakeConfig;
use futures::StreamExt as _;
use serde_json::Value;

use paylink_testkit::{AppOptions, TestApp, WEBHOOK_SECRET, sign, spawn_app_with};

use crate::webhooks::completed_event;

const SESSION_READS: &str = "GET /v1/checkout/sessions/{id}";
const LINK_CREATES: &str = "POST /v1/payment_links";

async fn requests(app: &TestApp, endpoint: &str) -> u64 {
    app.fake_stats().await["requests"][endpoint]
        .as_u64()
        .unwrap_or(0)
}

/// A client from another address than the test's own (Stripe's, say): Linux routes all of
/// 127/8 to the loopback interface.
fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_made_up_returns_costs_a_handful_of_reads_and_leaves_webhooks_answered() {
    // Stripe's shipped pace: 20 requests/s, of which the sweeps' share (4/s) is what the
    // return page once waited in line for.
    let app = spawn_app_with(AppOptions {
        stripe_rate: 20,
        ..AppOptions::default()
    })
    .await;
    let mut orders = Vec::new();
    for category in ["monthly", "tournament", "jersey"] {
        orders.push(app.minted_order(category, 2500).await);
    }
    let reads_before = requests(&app, SESSION_READS).await;

    // 100 connections at a time: within one client's share of connections
    // (`http.max_connections_per_client`), so every return reaches the page.
    let flooder = client_from(1);
    let urls: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{}/thanks?session_id=cs_test_made_up_{i}",
                orders[i % orders.len()]["pay_url"].as_str().unwrap()
            )
        })
        .collect();
    let flood = futures::stream::iter(urls)
        .map(move |url| {
            let flooder = flooder.clone();
            async move {
                let response = flooder.get(url).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        })
        .buffer_unordered(100)
        .collect::<Vec<_>>();
    let flood = tokio::spawn(flood);

    // Stripe delivers a payment while the flood is on, from an address of its own.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = completed_event(&orders[0], "paid").to_string();
    let signature = sign(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
    let started = Instant::now();
    let delivered = client_from(2)
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let webhook_took = started.elapsed();
    assert_eq!(delivered.status(), 200);
    assert!(
        webhook_took < Duration::from_secs(2),
        "the webhook was answered in {webhook_took:?} during the flood"
    );

    let answers = tokio::time::timeout(Duration::from_secs(30), flood)
        .await
        .expect("300 returns answered within 30 s, none waiting for Stripe's rate limit")
        .unwrap();
    for (status, page) in &answers {
        assert_eq!(*status, 200);
        assert!(page.contains("confirming your payment"), "{page}");
    }
    let reads = requests(&app, SESSION_READS).await - reads_before;
    assert!(
        reads <= orders.len() as u64,
        "{reads} Stripe reads for 300 made-up returns on {} orders",
        orders.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_clicks_at_once_on_a_link_not_minted_yet_make_one_stripe_create() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        // Each create takes a while, as Stripe's do under load: the clicks overlap it.
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            latency_ms: 500,
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 3500).await;
    let pay_url = order["pay_url"].as_str().unwrap().to_owned();

    let clicks = futures::future::join_all((0..30).map(|_| app.click_pay(&pay_url))).await;

    let stored = app.get_order(order["id"].as_str().unwrap()).await;
    let link_url = stored["stripe_payment_link_url"].as_str().unwrap();
    for click in &clicks {
        assert_eq!(click.status(), 303);
        assert_eq!(click.headers()["location"].to_str().unwrap(), link_url);
    }
    assert_eq!(
        requests(&app, LINK_CREATES).await,
        1,
        "30 clicks share one create"
    );
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 1);

    // Landed: a later click on the minted link sends nothing more.
    assert_eq!(app.click_pay(&pay_url).await.status(), 303);
    assert_eq!(requests(&app, LINK_CREATES).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_at_its_deadline_is_answered_503() {
    // Stripe answers nothing for 5 s at a time; the click would wait through two tries.
    let app = spawn_app_with(AppOptions {
        workers: false,
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            latency_ms: 5_000,
            ..FakeConfig::default()
        },
        stripe_timeout_ms: 10_000,
        settings: vec![("http.request_timeout_secs", Value::from(2))],
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 3500).await;

    let started = Instant::now();
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    let took = started.elapsed();

    assert_eq!(click.status(), 503);
    assert_eq!(click.headers()["retry-after"], "5");
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert!(
        click
            .text()
            .await
            .unwrap()
            .contains("not available right now"),
        "the payer's page, not a bare status"
    );
    // The intake goes on serving.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
