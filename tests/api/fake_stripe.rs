//! The Stripe stand-in on its own: Stripe's wire format, errors and idempotency rules, so that
//! what paylink's tests conclude from it would hold at Stripe.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};

use paylink::fake_stripe::{FakeConfig, FakeStripeServer};

async fn fake(config: FakeConfig) -> String {
    let server = FakeStripeServer::bind("127.0.0.1:0", config).await.unwrap();
    let url = server.base_url();
    tokio::spawn(server.run());
    url
}

const LINK: &str = "line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=2500\
&line_items[0][price_data][product_data][name]=Dues&line_items[0][quantity]=1&metadata[order_id]=ord_1";

/// No rate limits: for tests that make many requests and are not about the limits.
fn unlimited() -> FakeConfig {
    FakeConfig {
        rate_limit_per_sec: 0,
        account_rate_limit_per_sec: 0,
        ..FakeConfig::default()
    }
}

async fn post_response(url: &str, path: &str, body: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = Client::new()
        .post(format!("{url}v1/{path}"))
        .bearer_auth("sk_test_x")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn post(url: &str, path: &str, body: &str, key: Option<&str>) -> (u16, Value, bool) {
    let response = post_response(url, path, body, key).await;
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
    let first = post_response(&url, "payment_links", LINK, Some("k500")).await;
    assert_eq!(first.status(), 500);
    // As with most of Stripe's 500s: the same key would only replay it.
    assert_eq!(first.headers()["stripe-should-retry"], "false");
    let error: Value = first.json().await.unwrap();
    assert_eq!(error["error"]["type"], "api_error");
    let replay = post_response(&url, "payment_links", LINK, Some("k500")).await;
    assert_eq!(replay.headers()["stripe-should-retry"], "false");
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
    // As `curl -u sk_test_…:` sends it (Stripe takes the Basic user as the key).
    for (user, status) in [("sk_test_basic", 200), ("sk_live_basic", 401), ("", 401)] {
        let response = Client::new()
            .get(format!("{url}v1/payment_links"))
            .basic_auth(user, Some(""))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "basic user {user:?}");
    }
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

/// `GET /v1/{path}` with a test key.
async fn get(url: &str, path: &str) -> (u16, Value) {
    let response = Client::new()
        .get(format!("{url}v1/{path}"))
        .bearer_auth("sk_test_x")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `POST /_fake/{path}` with a JSON body, as a test drives payers and misbehaviour.
async fn control(url: &str, path: &str, body: Value) -> (u16, Value) {
    let response = Client::new()
        .post(format!("{url}_fake/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn stats(url: &str) -> Value {
    Client::new()
        .get(format!("{url}_fake/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A new Payment Link with `extra` parameters: its id.
async fn new_link(url: &str, extra: &str) -> String {
    let (status, link, _) = post(url, "payment_links", &format!("{LINK}{extra}"), None).await;
    assert_eq!(status, 200, "{link}");
    link["id"].as_str().unwrap().to_owned()
}

/// A payer opens checkout on `link` and pays at once: the session id and the event id.
async fn pay(url: &str, link: &str, body: Value) -> (String, String) {
    let (status, paid) = control(url, &format!("payment_links/{link}/complete"), body).await;
    assert_eq!(status, 200, "{paid}");
    (
        paid["checkout_session"].as_str().unwrap().to_owned(),
        paid["event"].as_str().unwrap().to_owned(),
    )
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect()
}

/// A webhook endpoint that takes every delivery and counts them: its URL and the count.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hook"), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_carries_stripes_required_fields_and_a_customer_only_when_always() {
    let url = fake(unlimited()).await;
    let plain = new_link(&url, "").await;
    let always = new_link(&url, "&customer_creation=always").await;

    let (session_id, _) = pay(&url, &plain, json!({})).await;
    let (status, session) = get(&url, &format!("checkout/sessions/{session_id}")).await;
    assert_eq!(status, 200, "{session}");
    for field in [
        "automatic_tax",
        "created",
        "custom_fields",
        "custom_text",
        "expires_at",
        "id",
        "livemode",
        "mode",
        "payment_method_types",
        "payment_status",
        "shipping_options",
        "status",
    ] {
        assert!(
            !session[field].is_null(),
            "Stripe requires {field}: {session}"
        );
    }
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["automatic_tax"]["enabled"], false);
    assert_eq!(session["amount_total"], 2500);
    assert_eq!(session["amount_subtotal"], 2500);
    assert_eq!(session["currency"], "usd");
    assert_eq!(
        session["metadata"]["order_id"], "ord_1",
        "copied from the link"
    );
    assert_eq!(session["payment_link"], plain.as_str());
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    assert!(
        session["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    assert_eq!(session["customer_details"]["email"], "payer@example.com");
    assert!(
        session["customer"].is_null(),
        "if_required creates no Customer in payment mode: {session}"
    );

    let (session_id, _) = pay(&url, &always, json!({})).await;
    let (_, session) = get(&url, &format!("checkout/sessions/{session_id}")).await;
    assert!(
        session["customer"].as_str().unwrap().starts_with("cus_"),
        "{session}"
    );
    assert_eq!(session["customer_creation"], "always");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_session_completes_after_its_link_is_switched_off_and_counts_on_it() {
    let url = fake(unlimited()).await;
    let link = new_link(&url, "&restrictions[completed_sessions][limit]=1").await;
    let open = |link: String| {
        let url = url.clone();
        async move {
            control(
                &url,
                &format!("payment_links/{link}/checkout_sessions"),
                json!({}),
            )
            .await
        }
    };
    let (status, opened) = open(link.clone()).await;
    assert_eq!(status, 200, "{opened}");
    let session = opened["checkout_session"].as_str().unwrap().to_owned();
    let (_, fetched) = get(&url, &format!("checkout/sessions/{session}")).await;
    assert_eq!(fetched["status"], "open");
    assert_eq!(fetched["payment_status"], "unpaid");
    assert!(fetched["payment_intent"].is_null());
    assert!(fetched["customer_details"].is_null());

    post(&url, &format!("payment_links/{link}"), "active=false", None).await;
    let (status, _) = open(link.clone()).await;
    assert_eq!(status, 409, "a switched-off link opens no session");
    let (status, _) = control(&url, &format!("payment_links/{link}/complete"), json!({})).await;
    assert_eq!(status, 409);

    let complete = format!("checkout_sessions/{session}/complete");
    let (status, completed) = control(&url, &complete, json!({"payment_status": "paid"})).await;
    assert_eq!(status, 200, "an open session may still finish: {completed}");
    assert_eq!(completed["checkout_session"], session.as_str());
    assert!(completed["event"].as_str().unwrap().starts_with("evt_"));
    let (status, _) = control(&url, &complete, json!({})).await;
    assert_eq!(status, 409, "a complete session completes once");
    let (_, fetched) = get(&url, &format!("payment_links/{link}")).await;
    assert_eq!(fetched["restrictions"]["completed_sessions"]["count"], 1);
    let (_, events) = get(&url, "events").await;
    assert_eq!(events["data"][0]["type"], "checkout.session.completed");
    assert_eq!(events["data"][0]["data"]["object"]["id"], session.as_str());

    // Switched on again, the link is at its limit.
    post(&url, &format!("payment_links/{link}"), "active=true", None).await;
    let (status, refused) = open(link).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(stats(&url).await["checkout_sessions"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_newest_first_with_stripes_filters_and_cursors() {
    let url = fake(unlimited()).await;
    let link = new_link(&url, "").await;
    let (_, first) = pay(&url, &link, json!({"deliver": false})).await;
    let (unpaid, second) = pay(&url, &link, json!({"payment_status": "unpaid"})).await;
    let (status, settled) = control(
        &url,
        &format!("checkout_sessions/{unpaid}/settle"),
        json!({"outcome": "failed", "deliver": false}),
    )
    .await;
    assert_eq!(status, 200, "{settled}");
    let third = settled["event"].as_str().unwrap().to_owned();

    let (status, all) = get(&url, "events").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["object"], "list");
    assert_eq!(all["url"], "/v1/events");
    assert_eq!(all["has_more"], false);
    assert_eq!(ids(&all), [third.as_str(), second.as_str(), first.as_str()]);
    let event = &all["data"][0];
    for field in [
        "api_version",
        "created",
        "livemode",
        "pending_webhooks",
        "request",
    ] {
        assert!(event.get(field).is_some(), "{field}: {event}");
    }
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "checkout.session.async_payment_failed");
    assert_eq!(event["data"]["object"]["id"], unpaid.as_str());

    let (_, completed) = get(&url, "events?type=checkout.session.completed").await;
    assert_eq!(ids(&completed), [second.as_str(), first.as_str()]);
    let (_, group) = get(&url, "events?type=checkout.session.*").await;
    assert_eq!(group["data"].as_array().unwrap().len(), 3);
    let (_, several) = get(
        &url,
        "events?types[]=checkout.session.async_payment_failed&types[]=checkout.session.async_payment_succeeded",
    )
    .await;
    assert_eq!(ids(&several), [third.as_str()]);
    let (status, both) = get(&url, "events?type=a&types[]=b").await;
    assert_eq!(status, 400, "{both}");
    assert_eq!(both["error"]["type"], "invalid_request_error");

    let (_, page) = get(&url, "events?limit=2").await;
    assert_eq!(ids(&page), [third.as_str(), second.as_str()]);
    assert_eq!(page["has_more"], true);
    let (_, next) = get(&url, &format!("events?limit=2&starting_after={second}")).await;
    assert_eq!(ids(&next), [first.as_str()]);
    assert_eq!(next["has_more"], false);
    let (_, back) = get(&url, &format!("events?ending_before={first}")).await;
    assert_eq!(ids(&back), [third.as_str(), second.as_str()]);

    let created = all["data"][0]["created"].as_i64().unwrap();
    let (_, later) = get(&url, &format!("events?created[gt]={created}")).await;
    assert_eq!(ids(&later), Vec::<&str>::new());
    let (_, since) = get(&url, &format!("events?created[lte]={created}&limit=1")).await;
    assert_eq!(ids(&since), [third.as_str()]);

    for limit in ["0", "101"] {
        let (status, error) = get(&url, &format!("events?limit={limit}")).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], "limit");
    }
    for cursor in ["starting_after", "ending_before"] {
        let (status, error) = get(&url, &format!("events?{cursor}=evt_nope")).await;
        assert_eq!(status, 404, "{error}");
        assert_eq!(error["error"]["code"], "resource_missing");
        assert_eq!(error["error"]["param"], cursor);
        assert_eq!(error["error"]["message"], "No such event: 'evt_nope'");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_sessions_are_retrieved_and_listed_by_link() {
    let url = fake(unlimited()).await;
    let one = new_link(&url, "").await;
    let other = new_link(&url, "").await;
    let (a, _) = pay(&url, &one, json!({})).await;
    let (b, _) = pay(&url, &other, json!({})).await;
    let (c, _) = pay(&url, &one, json!({})).await;

    let (status, error) = get(&url, "checkout/sessions/cs_test_nope").await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "resource_missing");
    assert_eq!(error["error"]["param"], "id");

    let (status, all) = get(&url, "checkout/sessions").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["url"], "/v1/checkout/sessions");
    assert_eq!(ids(&all), [c.as_str(), b.as_str(), a.as_str()]);
    let (_, on_one) = get(&url, &format!("checkout/sessions?payment_link={one}")).await;
    assert_eq!(ids(&on_one), [c.as_str(), a.as_str()]);
    let (_, first) = get(
        &url,
        &format!("checkout/sessions?payment_link={one}&limit=1"),
    )
    .await;
    assert_eq!(ids(&first), [c.as_str()]);
    assert_eq!(first["has_more"], true);
    let (_, next) = get(
        &url,
        &format!("checkout/sessions?payment_link={one}&limit=1&starting_after={c}"),
    )
    .await;
    assert_eq!(ids(&next), [a.as_str()]);
    let (_, before) = get(
        &url,
        &format!("checkout/sessions?ending_before={a}&limit=1"),
    )
    .await;
    assert_eq!(ids(&before), [b.as_str()]);
    let (_, session) = get(&url, &format!("checkout/sessions/{b}")).await;
    let intent = session["payment_intent"].as_str().unwrap();
    let (_, by_intent) = get(&url, &format!("checkout/sessions?payment_intent={intent}")).await;
    assert_eq!(ids(&by_intent), [b.as_str()]);
    let (_, open) = get(&url, "checkout/sessions?status=open").await;
    assert_eq!(ids(&open), Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_undelivered_events_are_listed_and_counted_but_never_sent() {
    let (hook, received) = receiver().await;
    let url = fake(FakeConfig {
        webhook_url: Some(hook),
        webhook_secret: Some("whsec_test".into()),
        ..unlimited()
    })
    .await;
    let (status, _) = control(&url, "config", json!({"drop_webhook_rate": 1.5})).await;
    assert_eq!(status, 422, "a rate is between 0 and 1");
    let link = new_link(&url, "").await;

    pay(&url, &link, json!({})).await;
    pay(&url, &link, json!({"deliver": false})).await;
    let (status, _) = control(&url, "config", json!({"drop_webhook_rate": 1.0})).await;
    assert_eq!(status, 200);
    pay(&url, &link, json!({})).await;
    // Every event is accounted for (delivered or dropped) before the receiver is read.
    let mut accounted = false;
    for _ in 0..200 {
        let s = stats(&url).await;
        let settled =
            s["events_delivered"].as_u64().unwrap() + s["events_dropped"].as_u64().unwrap();
        if settled == s["events_generated"].as_u64().unwrap() {
            accounted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(accounted, "the stand-in accounted for every event");

    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "only the first was sent"
    );
    let stats = stats(&url).await;
    assert_eq!(stats["events_generated"], 3, "{stats}");
    assert_eq!(stats["events_dropped"], 2, "{stats}");
    assert_eq!(stats["events_delivered"], 1, "{stats}");
    assert_eq!(stats["checkout_sessions"], 3, "{stats}");
    let (_, events) = get(&url, "events").await;
    assert_eq!(events["data"].as_array().unwrap().len(), 3);
    let pending: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["pending_webhooks"])
        .collect();
    assert_eq!(pending, [&json!(1), &json!(1), &json!(0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_runs_again_once_its_result_expires() {
    let url = fake(FakeConfig {
        idempotency_ttl_secs: 1,
        ..unlimited()
    })
    .await;
    let (_, first, _) = post(&url, "payment_links", LINK, Some("ttl")).await;
    let (_, replay, replayed) = post(&url, "payment_links", LINK, Some("ttl")).await;
    assert!(replayed);
    assert_eq!(first["id"], replay["id"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, again, replayed) = post(&url, "payment_links", LINK, Some("ttl")).await;
    assert_eq!(status, 200);
    assert!(!replayed, "the saved result expired");
    assert_ne!(first["id"], again["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_limit_counts_requests_to_every_endpoint() {
    let url = fake(FakeConfig {
        rate_limit_per_sec: 25,
        account_rate_limit_per_sec: 3,
        ..FakeConfig::default()
    })
    .await;
    // Three requests to each of four endpoints: within every endpoint's limit, over the
    // account's (twelve requests take well under two seconds, so at most six fit).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        for path in [
            "payment_links",
            "payment_links/plink_x",
            "payment_links/plink_x/line_items",
            "prices/price_x",
        ] {
            statuses.push(get(&url, path).await.0);
        }
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 6, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_running_keeps_the_object_and_replays_the_500() {
    let url = fake(FakeConfig {
        fail_after_next: 1,
        ..unlimited()
    })
    .await;
    let (status, error, _) = post(&url, "payment_links", LINK, Some("after")).await;
    assert_eq!(status, 500, "{error}");
    assert_eq!(error["error"]["type"], "api_error");
    assert_eq!(
        stats(&url).await["payment_links"]["total"],
        1,
        "the link was made"
    );
    let (status, _, replayed) = post(&url, "payment_links", LINK, Some("after")).await;
    assert_eq!(status, 500);
    assert!(replayed);
    let (status, _, _) = post(&url, "payment_links", LINK, Some("after-2")).await;
    assert_eq!(status, 200);
    assert_eq!(stats(&url).await["payment_links"]["total"], 2);
    let (status, _) = control(&url, "config", json!({"fail_after_rate": -0.1})).await;
    assert_eq!(status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_first_request_is_still_going_gets_409() {
    let url = fake(FakeConfig {
        latency_ms: 800,
        ..unlimited()
    })
    .await;
    let first = tokio::spawn({
        let url = url.clone();
        async move { post(&url, "payment_links", LINK, Some("busy")).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, error, replayed) = post(&url, "payment_links", LINK, Some("busy")).await;
    assert_eq!(status, 409, "{error}");
    assert!(!replayed);
    assert_eq!(error["error"]["type"], "idempotency_error");
    assert!(
        error["error"]["message"].as_str().unwrap().starts_with(
            "There is currently another in-progress request using this Idempotent Key"
        ),
        "{error}"
    );
    let (status, link, _) = first.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(stats(&url).await["idempotent_replays"], 0);
    let (status, replay, replayed) = post(&url, "payment_links", LINK, Some("busy")).await;
    assert_eq!(status, 200);
    assert!(replayed, "once answered, the key replays");
    assert_eq!(replay["id"], link["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_version_stripe_never_published_is_refused_with_its_400() {
    let url = fake(FakeConfig::default()).await;
    let with_version = |version: &'static str| {
        let url = url.clone();
        async move {
            let response = Client::new()
                .get(format!("{url}v1/payment_links"))
                .bearer_auth("sk_test_x")
                .header("stripe-version", version)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, error) = with_version("2019-2-19").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(
        error["error"]["message"],
        "Invalid Stripe API version: 2019-2-19"
    );
    // The version paylink speaks (async-stripe's), and none at all (the account's default).
    let (status, _) = with_version(paylink_core::stripe::api_version()).await;
    assert_eq!(status, 200);
    let (status, _) = get(&url, "payment_links").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_carries_no_retry_after() {
    let url = fake(FakeConfig {
        rate_limit_per_sec: 1,
        ..FakeConfig::default()
    })
    .await;
    let mut limited = None;
    for _ in 0..5 {
        let response = Client::new()
            .get(format!("{url}v1/payment_links"))
            .bearer_auth("sk_test_x")
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a 429 past one request a second");
    assert!(limited.headers().get("retry-after").is_none());
    assert_eq!(limited.headers()["stripe-should-retry"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_stripe_refuses_are_refused_with_their_names() {
    let url = fake(unlimited()).await;
    let long_key = "k".repeat(41);
    let long_value = "v".repeat(501);
    let many: String = (0..51).map(|i| format!("&metadata[k{i}]=v")).collect();
    let items: String = (0..21)
        .map(|i| format!("&line_items[{i}][price_data][currency]=usd&line_items[{i}][price_data][unit_amount]=100&line_items[{i}][price_data][product_data][name]=x&line_items[{i}][quantity]=1"))
        .collect();
    let cases = [
        (
            "payment_links",
            format!("{LINK}&after_completion[redirect][url]=https://x.test"),
            "after_completion[type]",
        ),
        (
            "payment_links",
            format!("{LINK}&after_completion[type]=redirect"),
            "after_completion[redirect][url]",
        ),
        ("payment_links", format!("{LINK}{many}"), "metadata"),
        (
            "payment_links",
            format!("{LINK}&metadata[{long_key}]=v"),
            "metadata",
        ),
        (
            "payment_links",
            format!("{LINK}&metadata[note]={long_value}"),
            "metadata[note]",
        ),
        (
            "payment_links",
            format!("{LINK}&payment_intent_data[metadata][note]={long_value}"),
            "payment_intent_data[metadata][note]",
        ),
        (
            "payment_links",
            format!("{LINK}&restrictions[completed_sessions][limit]=0"),
            "restrictions[completed_sessions][limit]",
        ),
        ("payment_links", items[1..].to_owned(), "line_items"),
        ("products", format!("name=x{many}"), "metadata"),
        (
            "prices",
            format!(
                "currency=usd&unit_amount=100&product_data[name]=x&metadata[note]={long_value}"
            ),
            "metadata[note]",
        ),
    ];
    for (path, body, param) in cases {
        let (status, error, _) = post(&url, path, &body, None).await;
        assert_eq!(status, 400, "{param}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let (status, link, _) = post(
        &url,
        "payment_links",
        &format!("{LINK}&after_completion[type]=redirect&after_completion[redirect][url]=https://x.test&metadata[k]={}", "v".repeat(500)),
        None,
    )
    .await;
    assert_eq!(status, 200, "at the limits is fine: {link}");
}

/// `method /v1/{path}` with `body` (form-encoded) and the bearer `key`.
async fn call(
    method: reqwest::Method,
    url: &str,
    path: &str,
    body: &str,
    key: &str,
) -> (u16, Value) {
    let response = Client::new()
        .request(method, format!("{url}v1/{path}"))
        .bearer_auth(key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const ENDPOINT: &str = "url=https://example.test/hooks&enabled_events[]=checkout.session.completed\
&enabled_events[]=checkout.session.async_payment_succeeded&description=paylink&metadata[app]=paylink";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_endpoint_answers_its_secret_once_and_reads_never_do() {
    let url = fake(unlimited()).await;
    let (status, created, _) = post(&url, "webhook_endpoints", ENDPOINT, None).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("we_"), "{id}");
    assert_eq!(created["object"], "webhook_endpoint");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["api_version"], Value::Null);
    assert_eq!(created["application"], Value::Null);
    assert_eq!(created["livemode"], false);
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["url"], "https://example.test/hooks");
    assert_eq!(created["description"], "paylink");
    assert_eq!(created["metadata"], json!({"app": "paylink"}));
    assert_eq!(
        created["enabled_events"],
        json!([
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded"
        ])
    );
    assert!(created["created"].is_i64());

    let (status, read) = get(&url, &format!("webhook_endpoints/{id}")).await;
    assert_eq!(status, 200);
    assert!(read.get("secret").is_none(), "{read}");
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(read, without_secret);

    let (_, pinned, _) = post(
        &url,
        "webhook_endpoints",
        "url=http://127.0.0.1:9/h&enabled_events[]=*&api_version=2024-06-20",
        None,
    )
    .await;
    assert_eq!(pinned["api_version"], "2024-06-20", "{pinned}");
    assert_eq!(pinned["description"], Value::Null);
    assert_eq!(pinned["metadata"], json!({}));
    assert_ne!(pinned["secret"], created["secret"]);

    let (status, list) = get(&url, "webhook_endpoints").await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/webhook_endpoints");
    assert_eq!(ids(&list), [pinned["id"].as_str().unwrap(), id]);
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("secret").is_none()),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_page_newest_first() {
    let url = fake(unlimited()).await;
    let mut made = Vec::new();
    for i in 0..3 {
        let body = format!("url=https://example.test/{i}&enabled_events[]=*");
        let (_, endpoint, _) = post(&url, "webhook_endpoints", &body, None).await;
        made.push(endpoint["id"].as_str().unwrap().to_owned());
    }
    let (_, first) = get(&url, "webhook_endpoints?limit=2").await;
    assert_eq!(ids(&first), [made[2].as_str(), made[1].as_str()]);
    assert_eq!(first["has_more"], true);
    let (_, second) = get(
        &url,
        &format!("webhook_endpoints?limit=2&starting_after={}", made[1]),
    )
    .await;
    assert_eq!(ids(&second), [made[0].as_str()]);
    assert_eq!(second["has_more"], false);
    let (status, error) = get(&url, "webhook_endpoints?active=true").await;
    assert_eq!(status, 400, "no such filter: {error}");
    assert_eq!(error["error"]["param"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_endpoint_is_updated_disabled_and_deleted() {
    let url = fake(unlimited()).await;
    let (_, created, _) = post(&url, "webhook_endpoints", ENDPOINT, None).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("webhook_endpoints/{id}");
    let (status, updated, _) = post(
        &url,
        &path,
        "disabled=true&url=https://example.test/new&enabled_events[]=*&description=&metadata[app]=&metadata[env]=ci",
        None,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "disabled");
    assert_eq!(updated["url"], "https://example.test/new");
    assert_eq!(updated["enabled_events"], json!(["*"]));
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["metadata"], json!({"env": "ci"}));
    assert!(updated.get("secret").is_none(), "{updated}");
    assert_eq!(get(&url, &path).await.1["status"], "disabled");
    let (_, enabled, _) = post(&url, &path, "disabled=false", None).await;
    assert_eq!(enabled["status"], "enabled");
    assert_eq!(enabled["url"], "https://example.test/new");

    let (status, deleted) = call(reqwest::Method::DELETE, &url, &path, "", "sk_test_x").await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    for (status, error) in [
        get(&url, &path).await,
        call(reqwest::Method::DELETE, &url, &path, "", "sk_test_x").await,
        call(
            reqwest::Method::POST,
            &url,
            &path,
            "disabled=true",
            "sk_test_x",
        )
        .await,
        get(&url, "webhook_endpoints/we_nope").await,
    ] {
        assert_eq!(status, 404, "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["code"], "resource_missing");
        assert_eq!(error["error"]["param"], "id");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("No such webhook endpoint: 'we_"),
            "{error}"
        );
    }
    assert_eq!(ids(&get(&url, "webhook_endpoints").await.1).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoint_parameters_are_checked_as_stripe_checks_them() {
    let url = fake(unlimited()).await;
    let cases = [
        ("enabled_events[]=*", "url", "parameter_missing"),
        (
            "url=https://example.test/h",
            "enabled_events",
            "parameter_missing",
        ),
        (
            "url=https://example.test/h&enabled_events=",
            "enabled_events",
            "parameter_invalid_empty",
        ),
        ("url=&enabled_events[]=*", "url", "parameter_invalid_empty"),
        (
            "url=example.test/h&enabled_events[]=*",
            "url",
            "url_invalid",
        ),
        (
            "url=ftp://example.test/h&enabled_events[]=*",
            "url",
            "url_invalid",
        ),
        ("url=https://&enabled_events[]=*", "url", "url_invalid"),
        (
            "url=https://example.test/h&enabled_events[]=*&enabled_events[]=checkout.session.paid",
            "enabled_events[1]",
            "parameter_invalid_string",
        ),
        (
            "url=https://example.test/h&enabled_events[]=*&api_version=2099-01-01",
            "api_version",
            "parameter_invalid_string",
        ),
        (
            "url=https://example.test/h&enabled_events[]=*&status=disabled",
            "status",
            "parameter_unknown",
        ),
    ];
    for (body, param, code) in cases {
        let (status, error, _) = post(&url, "webhook_endpoints", body, None).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
    }
    let (status, error, _) = post(&url, "webhook_endpoints", "enabled_events[]=*", None).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["message"], "Missing required param: url.");

    let (_, created, _) = post(&url, "webhook_endpoints", ENDPOINT, None).await;
    let path = format!("webhook_endpoints/{}", created["id"].as_str().unwrap());
    for (body, param) in [
        ("url=nope", "url"),
        ("enabled_events=", "enabled_events"),
        ("disabled=maybe", "disabled"),
        ("api_version=2024-06-20", "api_version"),
    ] {
        let (status, error, _) = post(&url, &path, body, None).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    let (_, unchanged) = get(&url, &path).await;
    assert_eq!(unchanged["url"], "https://example.test/hooks");
    assert_eq!(unchanged["status"], "enabled");
    assert_eq!(
        ids(&get(&url, "webhook_endpoints").await.1).len(),
        1,
        "refused requests made nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_api_keys_are_accepted_once_set() {
    let url = fake(unlimited()).await;
    let get_with = |key: &'static str| {
        let url = url.clone();
        async move { call(reqwest::Method::GET, &url, "webhook_endpoints", "", key).await }
    };
    // Any test key, secret or restricted; never a live key.
    assert_eq!(get_with("sk_test_anything").await.0, 200);
    assert_eq!(get_with("rk_test_restricted").await.0, 200);
    let (status, error) = get_with("sk_live_0123456789wxyz").await;
    assert_eq!(status, 401);
    assert_eq!(
        error["error"]["message"],
        "Invalid API Key provided: sk_live_**********wxyz"
    );
    let (status, error) = get_with("rk_live_0123456789wxyz").await;
    assert_eq!(status, 401, "{error}");
    let response = Client::new()
        .get(format!("{url}v1/webhook_endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key."),
        "{error}"
    );

    let client = paylink::fake_stripe::FakeStripeClient::new(&url);
    client
        .set_api_keys(&["sk_test_right0000abcd", "rk_test_doctor00wxyz"])
        .await
        .unwrap();
    assert_eq!(get_with("sk_test_right0000abcd").await.0, 200);
    assert_eq!(get_with("rk_test_doctor00wxyz").await.0, 200);
    let (status, error) = get_with("sk_test_wrong0000abcd").await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(
        error["error"]["message"],
        "Invalid API Key provided: sk_test_*********abcd"
    );
    assert_eq!(get_with("rk_test_restricted").await.0, 401);
    // The client's own reads need one of the keys now.
    assert!(client.get("webhook_endpoints").await.is_err());
    let reader = client.clone().with_key("sk_test_right0000abcd");
    assert_eq!(
        reader.get("webhook_endpoints").await.unwrap()["object"],
        "list"
    );
    // The controls show the keys masked, as they never show the webhook secret.
    let (status, view) = control(
        &url,
        "config",
        json!({"webhook_secret": "whsec_hidden", "webhook_url": "http://127.0.0.1:9/h"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        view["api_keys"],
        json!(["sk_test_*********abcd", "rk_test_********wxyz"])
    );
    assert!(!view.to_string().contains("whsec_hidden"), "{view}");
    assert!(!view.to_string().contains("right0000"), "{view}");
    // `[]` accepts any test key again.
    client.set_api_keys(&[]).await.unwrap();
    assert_eq!(get_with("sk_test_wrong0000abcd").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_customer_creation_makes_links_ignore_what_was_asked() {
    let url = fake(unlimited()).await;
    let asked = format!("{LINK}&customer_creation=always");
    let (_, honoured, _) = post(&url, "payment_links", &asked, None).await;
    assert_eq!(honoured["customer_creation"], "always");
    let (_, default, _) = post(&url, "payment_links", LINK, None).await;
    assert_eq!(default["customer_creation"], "if_required");

    let (status, view) = control(&url, "config", json!({"drop_customer_creation": true})).await;
    assert_eq!(status, 200);
    assert_eq!(view["drop_customer_creation"], true);
    let (status, dropped, _) = post(&url, "payment_links", &asked, None).await;
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(dropped["customer_creation"], "if_required");
    let id = dropped["id"].as_str().unwrap();
    let (_, stored) = get(&url, &format!("payment_links/{id}")).await;
    assert_eq!(stored["customer_creation"], "if_required");
    // Its checkout follows the stored link: no customer is made.
    let (session, _) = pay(&url, id, json!({})).await;
    let (_, session) = get(&url, &format!("checkout/sessions/{session}")).await;
    assert_eq!(session["customer_creation"], "if_required");
    assert!(session["customer"].is_null(), "{session}");
    // Links made before keep what they were given.
    let (_, earlier) = get(
        &url,
        &format!("payment_links/{}", honoured["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(earlier["customer_creation"], "always");
}

/// A receiver with one path per endpoint name: what reached each (path, signature, body).
type Received = Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

async fn recording_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let kept = received.clone();
    let router = axum::Router::new().route(
        "/{name}",
        axum::routing::post(
            move |axum::extract::Path(name): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let signature = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                kept.lock().unwrap().push((name, signature, body));
                async { "ok" }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), received)
}

/// Stripe delivers each event to every enabled endpoint that asked for its type (or `*`),
/// signed with that endpoint's own secret; a deleted endpoint gets nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_every_registered_endpoint_that_asked_for_them() {
    let url = fake(unlimited()).await;
    let (base, received) = recording_receiver().await;
    let mut secrets = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for (name, events) in [
        ("completed", "enabled_events[]=checkout.session.completed"),
        ("other", "enabled_events[]=payment_link.updated"),
        ("all", "enabled_events[]=*"),
    ] {
        let (status, endpoint, _) = post(
            &url,
            "webhook_endpoints",
            &format!("url={base}/{name}&{events}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{endpoint}");
        secrets.insert(name, endpoint["secret"].as_str().unwrap().to_owned());
        ids.insert(name, endpoint["id"].as_str().unwrap().to_owned());
    }
    let link = new_link(&url, "").await;
    let (_, event_id) = pay(&url, &link, json!({})).await;
    let arrived = paylink_testkit::eventually(Duration::from_secs(10), || async {
        let got = received.lock().unwrap().clone();
        (got.len() >= 2).then_some(got)
    })
    .await
    .expect("deliveries to the two endpoints that asked");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let arrived_now = received.lock().unwrap().clone();
    assert_eq!(arrived_now.len(), 2, "not to `other`: {arrived_now:?}");
    let mut names: Vec<&str> = arrived.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["all", "completed"]);
    for (name, signature, body) in &arrived {
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["id"], event_id.as_str());
        let t: i64 = signature
            .split(',')
            .find_map(|part| part.strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            &paylink_testkit::sign(&secrets[name.as_str()], t, body),
            "signed with {name}'s own secret"
        );
    }
    // Both took it; what is pending is the configured URL, unset here.
    let (_, events) = get(&url, "events").await;
    let event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == event_id.as_str())
        .unwrap();
    assert_eq!(event["pending_webhooks"], 1, "{event}");

    let response = Client::new()
        .delete(format!("{url}v1/webhook_endpoints/{}", ids["all"]))
        .bearer_auth("sk_test_x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    pay(&url, &link, json!({})).await;
    paylink_testkit::eventually(Duration::from_secs(10), || async {
        (received.lock().unwrap().len() >= 3).then_some(())
    })
    .await
    .expect("the third delivery");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last: Vec<String> = received.lock().unwrap()[2..]
        .iter()
        .map(|(n, _, _)| n.clone())
        .collect();
    assert_eq!(last, ["completed"], "the deleted endpoint got nothing more");
}

/// A restricted key may do only what it was given (write includes read); the rest is Stripe's
/// 403 naming the permission that would allow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_key_gets_stripes_403_outside_its_permissions() {
    let url = fake(unlimited()).await;
    let key = "rk_test_restricted_abcd";
    control(
        &url,
        "config",
        json!({"key_permissions": {key: ["rak_event_read", "rak_webhook_endpoint_write"]}}),
    )
    .await;
    let as_key = |method: reqwest::Method, path: &str| {
        Client::new()
            .request(method, format!("{url}v1/{path}"))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(
        as_key(reqwest::Method::GET, "events")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        as_key(reqwest::Method::GET, "webhook_endpoints")
            .await
            .unwrap()
            .status(),
        200,
        "write includes read"
    );
    let refused = as_key(reqwest::Method::GET, "payment_links").await.unwrap();
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'rak_payment_link_read' permission would allow")
            && message.contains("rk_test_")
            && !message.contains(key),
        "{message}"
    );
    // Another key is not restricted by this one's set.
    let (status, _) = get(&url, "payment_links").await;
    assert_eq!(status, 200);
}
