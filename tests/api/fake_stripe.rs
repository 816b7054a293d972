//! The Stripe stand-in on its own: Stripe's wire format, errors and idempotency rules, so that
//! what paylink's tests conclude from it would hold at Stripe.

use reqwest::Client;
use serde_json::Value;

use paylink::fake_stripe::{FakeConfig, FakeStripeServer};

async fn fake(config: FakeConfig) -> String {
    let server = FakeStripeServer::bind("127.0.0.1:0", config).await.unwrap();
    let url = server.base_url();
    tokio::spawn(server.run());
    url
}

const LINK: &str = "line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=2500\
&line_items[0][price_data][product_data][name]=Dues&line_items[0][quantity]=1&metadata[order_id]=ord_1";

async fn post(url: &str, path: &str, body: &str, key: Option<&str>) -> (u16, Value, bool) {
    let mut request = Client::new()
        .post(format!("{url}v1/{path}"))
        .bearer_auth("sk_test_x")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (
        response.status().as_u16(),
        response.json().await.unwrap(),
        replayed,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_link_is_created_from_bracketed_form_parameters() {
    let url = fake(FakeConfig::default()).await;
    let (status, link, _) = post(&url, "payment_links", LINK, None).await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["object"], "payment_link");
    assert!(link["id"].as_str().unwrap().starts_with("plink_"));
    assert_eq!(link["metadata"]["order_id"], "ord_1");
    assert_eq!(link["currency"], "usd");
    assert_eq!(link["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_replays_and_different_parameters_conflict() {
    let url = fake(FakeConfig::default()).await;
    let (_, first, replayed_first) = post(&url, "payment_links", LINK, Some("k1")).await;
    let (status, second, replayed_second) = post(&url, "payment_links", LINK, Some("k1")).await;
    assert_eq!(status, 200);
    assert!(!replayed_first);
    assert!(replayed_second);
    assert_eq!(first["id"], second["id"]);

    let other = LINK.replace("2500", "2600");
    let (status, error, _) = post(&url, "payment_links", &other, Some("k1")).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["type"], "idempotency_error");

    let stats: Value = Client::new()
        .get(format!("{url}_fake/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["payment_links"]["total"], 1);
    assert_eq!(stats["idempotent_replays"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_500_is_replayed_for_its_key() {
    let url = fake(FakeConfig {
        fail_next: 1,
        ..FakeConfig::default()
    })
    .await;
    let (status, error, _) = post(&url, "payment_links", LINK, Some("k500")).await;
    assert_eq!(status, 500);
    assert_eq!(error["error"]["type"], "api_error");
    let (status, _, replayed) = post(&url, "payment_links", LINK, Some("k500")).await;
    assert_eq!(status, 500, "Stripe replays a saved 500 for the same key");
    assert!(replayed);
    let (status, _, _) = post(&url, "payment_links", LINK, Some("k500-next")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_invalid_parameters_are_refused_and_save_nothing() {
    let url = fake(FakeConfig::default()).await;
    let (status, error, _) = post(
        &url,
        "payment_links",
        &format!("{LINK}&colour=red"),
        Some("k2"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "parameter_unknown");
    assert_eq!(error["error"]["param"], "colour");
    let (status, error, _) =
        post(&url, "payment_links", &LINK.replace("=2500", "=lots"), None).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "parameter_invalid_integer");
    let (status, error, _) = post(&url, "payment_links", "metadata[order_id]=1", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Missing required param: line_items."
    );
    // The refused request saved nothing: the key now works with valid parameters.
    let (status, _, replayed) = post(&url, "payment_links", LINK, Some("k2")).await;
    assert_eq!(status, 200);
    assert!(!replayed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_a_test_secret_key() {
    let url = fake(FakeConfig::default()).await;
    let response = Client::new()
        .post(format!("{url}v1/payment_links"))
        .body(LINK)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_rate_limit_it_answers_429_like_stripe() {
    let url = fake(FakeConfig {
        rate_limit_per_sec: 3,
        ..FakeConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(post(&url, "payment_links", LINK, None).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let stats: Value = Client::new()
        .get(format!("{url}_fake/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["rate_limited"].as_u64().unwrap() >= 1);
    assert_eq!(stats["requests"]["POST /v1/payment_links"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_link_shows_its_inactive_message() {
    let url = fake(FakeConfig::default()).await;
    let (_, link, _) = post(
        &url,
        "payment_links",
        &format!("{LINK}&inactive_message=Already+paid"),
        None,
    )
    .await;
    let id = link["id"].as_str().unwrap();
    let (status, updated, _) =
        post(&url, &format!("payment_links/{id}"), "active=false", None).await;
    assert_eq!(status, 200);
    assert_eq!(updated["active"], false);
    let page = Client::new()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Already paid"), "{page}");
    let (status, error, _) = post(&url, "payment_links/plink_nope", "active=false", None).await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "resource_missing");
}
