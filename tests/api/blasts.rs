//! Blasts: many orders at once, minted through the database backlog and a bounded Redis window,
//! within one Stripe rate limit shared by every worker process.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use paylink_core::jobs::mint_link::MintLink;
use serde_json::{Value, json};

use paylink_testkit::{AppOptions, Stack, TestApp, eventually, spawn_app_with};

pub(crate) fn rows(product: &str, count: usize, tag: &str) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "external_ref": format!("{tag}-{i}"),
                "product_id": product,
                "amount_cents": 1000 + i as i64,
                "payer": {"email": format!("payer{i}@example.com"), "name": format!("Payer {i}")}
            })
        })
        .collect()
}

pub(crate) async fn post_blast(app: &TestApp, name: &str, orders: Vec<Value>) -> Value {
    let response = app
        .post_json("/v1/blasts", &json!({"name": name, "orders": orders}))
        .await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    // 202 when a blast was created, 200 when every row already was an order.
    let expected = if answer["created"] == true { 202 } else { 200 };
    assert_eq!(status, expected, "blast accepted: {answer}");
    answer
}

/// Waits until no order of the blast is minting; returns its counts.
pub(crate) async fn wait_for_blast(app: &TestApp, id: &str, within: Duration) -> Value {
    eventually(within, || async {
        let blast: Value = app.get_blast(id).await;
        (blast["counts"]["minting"] == 0).then_some(blast)
    })
    .await
    .unwrap_or_else(|| panic!("blast {id} still minting after {within:?}"))
}

/// Links at the stand-in per `metadata.order_id`.
pub(crate) async fn links_per_order(app: &TestApp) -> HashMap<String, usize> {
    let mut per_order = HashMap::new();
    for link in app.stripe_links().await {
        *per_order
            .entry(link["metadata"]["order_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    per_order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blast_with_an_invalid_row_creates_nothing_and_names_the_row() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let mut orders = rows(&product, 5, "bad");
    orders[3]["amount_cents"] = json!(-5);
    orders[4]["payer"]["email"] = json!("nobody");

    let response = app
        .post_json("/v1/blasts", &json!({"name": "April", "orders": orders}))
        .await;

    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    let rows = error["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["row"], 3);
    assert_eq!(rows[0]["field"], "amount_cents");
    assert_eq!(rows[1]["row"], 4);
    assert_eq!(rows[1]["field"], "payer.email");
    assert_eq!(app.count_orders().await, 0);
    assert_eq!(app.count_rows("blasts").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blast_with_a_row_missing_a_field_is_refused() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let mut orders = rows(&product, 2, "missing");
    orders[1].as_object_mut().unwrap().remove("payer");

    let response = app
        .post_json("/v1/blasts", &json!({"name": "April", "orders": orders}))
        .await;

    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("payer"),
        "{error}"
    );
    assert_eq!(app.count_orders().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_lists_every_order_with_a_working_pay_url() {
    let app = spawn_app_with(AppOptions::default()).await;
    let product = app.create_product("tournament").await;
    let blast = post_blast(&app, "Spring cup", rows(&product, 25, "cup")).await;
    let id = blast["id"].as_str().unwrap();
    assert_eq!(blast["size"], 25);

    let status = wait_for_blast(&app, id, Duration::from_secs(30)).await;
    assert_eq!(status["counts"]["active"], 25);

    let first: Value = app
        .get_json(&format!("/v1/blasts/{id}/orders?per_page=10"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 10);
    assert_eq!(first["has_more"], true);
    let csv = app.blast_csv(id).await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "external_ref");
    let pay_column = headers.iter().position(|h| h == "pay_url").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 25);
    let mut locations = HashSet::new();
    for record in &records {
        let click = app.click_pay(&record[pay_column]).await;
        assert_eq!(click.status(), 303, "{record:?}");
        locations.insert(click.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(locations.len(), 25, "every order has its own link");
    assert!(
        locations
            .iter()
            .all(|l| l.starts_with(app.fake_url.trim_end_matches('/')))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_blast_again_creates_nothing() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let orders = rows(&product, 10, "again");

    let first = post_blast(&app, "May", orders.clone()).await;
    let second = post_blast(&app, "May", orders).await;

    assert_eq!(first["created"], true);
    assert_eq!(second["created"], false);
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.count_orders().await, 10);
    assert_eq!(app.count_rows("blasts").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_one_rate_limit_and_mint_each_link_once() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 300,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"rate_limit_per_sec": 400, "account_rate_limit_per_sec": 0}))
        .await;
    let product = app.create_product("monthly").await;
    let blast = post_blast(&app, "2k", rows(&product, 2000, "two-k")).await;
    let id = blast["id"].as_str().unwrap().to_owned();

    let mut workers = [app.spawn_worker_process(), app.spawn_worker_process()];
    let status = wait_for_blast(&app, &id, Duration::from_secs(120)).await;

    assert_eq!(status["counts"]["active"], 2000, "{status}");
    assert!(
        workers.iter_mut().all(|w| w.alive()),
        "both workers still running"
    );
    let stats = app.fake_stats().await;
    assert_eq!(stats["payment_links"]["total"], 2000, "{stats}");
    let per_order = links_per_order(&app).await;
    assert_eq!(per_order.len(), 2000);
    assert!(
        per_order.values().all(|n| *n == 1),
        "an order got two links"
    );
    assert!(
        stats["rate_limited"].as_u64().unwrap() <= 5,
        "429s: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_15000_order_blast_never_overfills_redis_and_every_worker_survives() {
    let window = 500;
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 5000,
        window,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"rate_limit_per_sec": 0, "account_rate_limit_per_sec": 0}))
        .await;
    let product = app.create_product("generic").await;
    let first = post_blast(&app, "big-1", rows(&product, 10_000, "big-a")).await;
    let second = post_blast(&app, "big-2", rows(&product, 5_000, "big-b")).await;
    let mut workers = [app.spawn_worker_process(), app.spawn_worker_process()];

    let mut most_due = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(due) = app.engine.queue.due::<MintLink>().await {
            most_due = most_due.max(due);
        }
        if app.count_rows("orders WHERE link_state = 'minting'").await == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "15,000 links not minted in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(
        most_due <= window,
        "{most_due} jobs were due at once; the window is {window}"
    );
    assert!(most_due > 0, "the queue was observed in use");
    assert!(workers.iter_mut().all(|w| w.alive()), "a worker died");
    for blast in [first, second] {
        let status =
            wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(5)).await;
        assert_eq!(status["counts"]["active"], blast["size"]);
    }
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 15_000);
}

async fn with_a_fifth_of_stripe_requests_failing_every_link_is_minted_once(stack: Stack) {
    let app = spawn_app_with(AppOptions {
        max_attempts: 30,
        ..AppOptions::on(stack)
    })
    .await;
    app.fake_config(json!({"fail_rate": 0.2})).await;
    let product = app.create_product("jersey").await;
    let blast = post_blast(&app, "flaky", rows(&product, 300, "flaky")).await;

    let status = wait_for_blast(
        &app,
        blast["id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;

    assert_eq!(status["counts"]["active"], 300, "{status}");
    let stats = app.fake_stats().await;
    assert!(
        stats["injected_failures"].as_u64().unwrap() > 20,
        "failures were injected: {stats}"
    );
    assert_eq!(stats["payment_links"]["total"], 300);
    assert!(links_per_order(&app).await.values().all(|n| *n == 1));
}

paylink_testkit::on_every_stack!(with_a_fifth_of_stripe_requests_failing_every_link_is_minted_once,);
