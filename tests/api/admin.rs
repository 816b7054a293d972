//! `/admin` over HTTP: who may see and do what, the operator's actions end to end, and
//! `/metrics`. The same dashboard in a real browser is in `browser.rs`.

use std::time::Duration;

use paylink::fake_stripe::FakeConfig;
use serde_json::json;

use crate::blasts::{links_per_order, post_blast, rows, wait_for_blast};
use crate::webhooks::completed_event;
use paylink_testkit::{ADMIN_TOKEN, AppOptions, TestApp, spawn_app, spawn_app_with};

/// Every page and action under `/admin` (with a placeholder id).
const PAGES: [&str; 7] = [
    "/admin",
    "/admin/blasts",
    "/admin/blasts/bl_x",
    "/admin/blasts/new",
    "/admin/blasts/bl_x/links.csv",
    "/admin/failures",
    "/admin/orders/ord_x",
];
const ACTIONS: [&str; 7] = [
    "/admin/failures/retry",
    "/admin/blasts/preview",
    "/admin/blasts/create",
    "/admin/orders/ord_x/retry",
    "/admin/orders/ord_x/cancel",
    "/admin/events/evt_x/replay",
    "/admin/logout",
];

pub(crate) async fn admin_post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_every_page_and_action_is_401_with_the_login_form() {
    let app = spawn_app().await;
    for path in PAGES {
        for token in [None, Some("wrong-token")] {
            let mut request = app.client.get(app.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "GET {path} with {token:?}");
            assert!(
                response
                    .text()
                    .await
                    .unwrap()
                    .contains("action=\"/admin/login\"")
            );
        }
        let forged = app
            .client
            .get(app.url(path))
            .header("cookie", "paylink_admin=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "GET {path} with a forged cookie");
    }
    let csrf = app.admin_csrf().await;
    for path in ACTIONS {
        let response = app
            .client
            .post(app.url(path))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "POST {path}");
    }
    assert_eq!(
        app.client
            .get(app.url("/admin/login"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_sets_a_strict_http_only_cookie_that_opens_the_dashboard() {
    let app = spawn_app().await;
    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", "not-it")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    let login = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains(ADMIN_TOKEN),
        "the cookie does not carry the token"
    );
    let session = cookie.split(';').next().unwrap();
    for path in PAGES.iter().take(2) {
        let page = app
            .client
            .get(app.url(path))
            .header("cookie", session)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"fail_next": 1})).await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 2000).await;
    let id = order["id"].as_str().unwrap();
    let failed = app.wait_until_settled(id).await;
    assert_eq!(failed["link_state"], "failed");

    for csrf in [None, Some("0".repeat(64))] {
        for path in [
            format!("/admin/orders/{id}/retry"),
            format!("/admin/orders/{id}/cancel"),
            "/admin/failures/retry".to_owned(),
        ] {
            let form: Vec<(&str, &str)> = csrf.iter().map(|c| ("csrf", c.as_str())).collect();
            let response = admin_post(&app, &path, &form).await;
            assert_eq!(response.status(), 403, "POST {path} with csrf {csrf:?}");
        }
    }
    app.drain_jobs().await;
    let unchanged = app.get_order(id).await;
    assert_eq!(unchanged["link_state"], "failed");
    assert_eq!(unchanged["status"], "pending");

    // A valid token but an id that cannot exist retries nothing (not everything).
    let csrf = app.admin_csrf().await;
    let nothing = admin_post(&app, "/admin/orders/ord%00x/retry", &[("csrf", &csrf)]).await;
    assert_eq!(nothing.status(), 303);
    app.drain_jobs().await;
    assert_eq!(app.get_order(id).await["link_state"], "failed");

    let retried = admin_post(
        &app,
        &format!("/admin/orders/{id}/retry"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(retried.status(), 303);
    let minted = app.wait_until_settled(id).await;
    assert_eq!(minted["link_state"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_all_on_500_failed_orders_mints_each_once_within_the_rate_limit() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 1,
        stripe_rate: 100,
        fake: FakeConfig {
            // Just above paylink's own limit: a burst past 100/s would show as 429s.
            rate_limit_per_sec: 120,
            account_rate_limit_per_sec: 0,
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"fail_rate": 1.0})).await;
    let product = app.create_product("monthly").await;
    let blast = post_blast(&app, "dues", rows(&product, 500, "dues")).await;
    let blast_id = blast["id"].as_str().unwrap();
    let failed = wait_for_blast(&app, blast_id, Duration::from_secs(60)).await;
    assert_eq!(failed["counts"]["failed"], 500, "{failed}");
    app.fake_config(json!({"fail_rate": 0.0})).await;

    let started = std::time::Instant::now();
    let response = admin_post(
        &app,
        "/admin/failures/retry",
        &[
            ("csrf", &app.admin_csrf().await),
            ("blast", blast_id),
            ("error", "HTTP 500"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .contains("notice=retried_matching&count=500"),
        "the notice counts the orders put back"
    );
    let done = wait_for_blast(&app, blast_id, Duration::from_secs(60)).await;
    let elapsed = started.elapsed();

    assert_eq!(done["counts"]["active"], 500, "{done}");
    let per_order = links_per_order(&app).await;
    assert_eq!(per_order.len(), 500);
    assert!(per_order.values().all(|n| *n == 1), "one link per order");
    let stats = app.fake_stats().await;
    assert_eq!(stats["rate_limited"], 0, "never past the limit: {stats}");
    assert!(
        elapsed >= Duration::from_secs(4),
        "500 links at 100/s take about 5 s, not {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_shows_its_timeline_and_a_failed_event_can_be_replayed() {
    let app = spawn_app().await;
    let order = app.minted_order("tournament", 8000).await;
    let id = order["id"].as_str().unwrap();
    app.click_pay(order["pay_url"].as_str().unwrap()).await;
    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    app.wait_for_order(id, "deactivated", |o| o["link_state"] == "deactivated")
        .await;

    let page = app
        .client
        .get(app.url(&format!("/admin/orders/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Every step, in time order, with what or who caused it.
    let mut last = 0;
    for (step, by) in [
        ("Order created for $80.00", "the API"),
        ("Pay link made for $80.00", "a worker, at Stripe"),
        ("Payer opened the pay URL", "the payer"),
        ("Paid $80.00", "Stripe's webhook"),
        (
            "Pay link switched off",
            "paid: this kind of order takes one payment",
        ),
    ] {
        let at = page
            .find(step)
            .unwrap_or_else(|| panic!("timeline has {step:?}: {page}"));
        assert!(at > last, "{step:?} comes after the step before it");
        assert!(page[at..].contains(by), "{step:?} by {by:?}");
        last = at;
    }
    assert!(page.contains(order["stripe_payment_link_id"].as_str().unwrap()));
    assert!(
        !page.contains("dashboard.stripe.com"),
        "no dashboard links for a test key"
    );

    // An event for an order paylink does not know fails, and shows on the failures page.
    let mut stray = completed_event(&order, "paid");
    stray["data"]["object"]["metadata"]["order_id"] = json!("ord_unknown");
    stray["data"]["object"]["payment_link"] = json!("plink_unknown");
    let stray_id = stray["id"].as_str().unwrap().to_owned();
    app.send_stripe_webhook(&stray).await;
    let outcome = paylink_testkit::eventually(Duration::from_secs(10), || async {
        app.event_outcome(&stray_id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("unknown_order"));
    let failures = app.admin_page("/admin/failures").await;
    assert!(failures.contains(&stray_id));

    let replayed = admin_post(
        &app,
        &format!("/admin/events/{stray_id}/replay"),
        &[("csrf", &app.admin_csrf().await)],
    )
    .await;
    assert_eq!(replayed.status(), 303);
    let stored = paylink_core::store::stripe_event::find(&app.db, &stray_id)
        .await
        .unwrap()
        .unwrap();
    let processed_again = paylink_testkit::eventually(Duration::from_secs(10), || async {
        let now = paylink_core::store::stripe_event::find(&app.db, &stray_id)
            .await
            .ok()??;
        (now.processed_at.is_some() && now.processed_at != stored.processed_at).then_some(())
    })
    .await;
    assert!(
        processed_again.is_some(),
        "the replayed event was processed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_with_jobs_stripe_webhooks_queue_and_orders() {
    let app = spawn_app().await;
    let order = app.minted_order("monthly", 4500).await;
    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    app.wait_for_order(order["id"].as_str().unwrap(), "deactivated", |o| {
        o["link_state"] == "deactivated"
    })
    .await;

    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for series in [
        "paylink_jobs_total{job=\"mint_link\",outcome=\"ok\"}",
        "paylink_jobs_total{job=\"deactivate_link\",outcome=\"ok\"}",
        "paylink_stripe_requests_total{endpoint=\"create_payment_link\",status=\"200\"}",
        "paylink_stripe_request_seconds_bucket{endpoint=\"create_payment_link\"",
        "paylink_webhooks_total{result=\"received\"}",
        "paylink_queue_due{queue=\"mint_link\"}",
        "paylink_orders{link_state=\"deactivated\"}",
    ] {
        assert!(text.contains(series), "{series} in /metrics:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_its_own_job_and_stripe_counters_on_metrics_addr() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let port = paylink_testkit::free_port();
    let addr = format!("127.0.0.1:{port}");
    let _worker = app.spawn_worker_process_with(&[("PAYLINK__WORKERS__METRICS_ADDR", &addr)]);
    let product = app.create_product("generic").await;
    let blast = post_blast(&app, "counted", rows(&product, 10, "counted")).await;
    wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(30)).await;

    let text = paylink_testkit::eventually(Duration::from_secs(10), || async {
        let text = app
            .client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("paylink_jobs_total{job=\"mint_link\",outcome=\"ok\"} 10")
            .then_some(text)
    })
    .await
    .expect("the worker counts its ten mint jobs");
    assert!(
        text.contains(
            "paylink_stripe_requests_total{endpoint=\"create_payment_link\",status=\"200\"} 10"
        ),
        "{text}"
    );
}
