//! A Stripe key Stripe refuses is a setting to fix, not a failure of every order: link-making
//! pauses for the fleet, the dashboard says what Stripe said and what to change, and once Stripe
//! takes the key the waiting orders get their links by themselves (core/src/stripe_key.rs).

use std::io::BufRead as _;
use std::process::Stdio;
use std::time::Duration;

use fake_stripe::{FakeConfig, FakeStripeServer};
use paylink_testkit::{AppOptions, TestApp, eventually, order_body, spawn_app_with};
use serde_json::{Value, json};

use crate::blasts::{links_per_order, post_blast};
use crate::cli::paylink;

/// The only key the stand-in's account holds here: paylink is given another.
const ACCOUNTS_KEY: &str = "sk_test_the_accounts_own_key";

async fn blast_counts(app: &TestApp, id: &str) -> Value {
    app.get_blast(id).await["counts"].clone()
}

async fn readyz(app: &TestApp) -> Value {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_pauses_the_blast_without_failing_an_order_and_it_mints_once_taken() {
    let app = spawn_app_with(AppOptions {
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            api_keys: vec![ACCOUNTS_KEY.to_owned()],
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    // Products are paylink's own: they need no Stripe call.
    let product = app.create_product("tournament").await;
    let rows: Vec<Value> = (0..20).map(|_| order_body(&product, 3000)).collect();
    let blast = post_blast(&app, "Spring tournament", rows).await;
    let blast_id = blast["id"].as_str().unwrap().to_owned();

    let banner = eventually(Duration::from_secs(30), || async {
        let page = app.admin_page("/admin").await;
        page.contains("id=\"stripe-key-refused\"").then_some(page)
    })
    .await
    .expect("the overview shows that Stripe refused the key");
    assert!(
        banner.contains("Invalid API Key provided"),
        "Stripe's words"
    );
    assert!(
        banner.contains("PAYLINK__STRIPE__SECRET_KEY"),
        "what to change"
    );
    assert_eq!(readyz(&app).await["stripe_key"], "refused");
    // Let every job the blast had in the queue come round: none fails its order, and the
    // fleet stops asking Stripe instead of trying each order eight times.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let counts = blast_counts(&app, &blast_id).await;
    assert_eq!(counts["failed"], 0, "{counts}");
    assert_eq!(counts["active"], 0, "{counts}");
    let creates = app.fake_stats().await["requests"]["POST /v1/payment_links"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        creates <= 20,
        "{creates} create requests for 20 orders while refused"
    );
    let failures = app.admin_page("/admin/failures").await;
    assert!(
        !failures.contains("Invalid API Key"),
        "no order is filed as failed"
    );

    // The operator fixes the key at Stripe's end (here: the account takes paylink's key too).
    app.fake_config(json!({"api_keys": []})).await;
    let counts = eventually(Duration::from_secs(60), || async {
        let counts = blast_counts(&app, &blast_id).await;
        (counts["active"] == 20).then_some(counts)
    })
    .await
    .expect("every order minted once the key was taken, with no operator action");
    assert_eq!(counts["failed"], 0, "{counts}");
    let links = links_per_order(&app).await;
    assert_eq!(links.len(), 20);
    assert!(links.values().all(|&n| n == 1), "one link each: {links:?}");
    assert!(
        !app.admin_page("/admin")
            .await
            .contains("id=\"stripe-key-refused\""),
        "the banner is gone"
    );
    assert_eq!(readyz(&app).await["stripe_key"], "ok");
}

/// An order an earlier version failed for a refused key (filed as "Stripe refused") is a retry
/// away from its link once the key is fixed: migration 16 refiles it, and "Retry all matching"
/// takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_failed_for_the_key_before_this_version_is_retried_by_retry_all_matching() {
    use paylink_core::store::order;
    use sea_orm::ConnectionTrait as _;
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let created = app.create_order(&product, 4500).await;
    let id = created["id"].as_str().unwrap();
    order::mark_link_failed(
        &app.db,
        id,
        0,
        "Stripe refused the request (HTTP 401): Invalid API Key provided: sk_test_****_key",
        order::LinkFailure::Refused,
    )
    .await
    .unwrap();
    // The database as an earlier version left it (migration 16 not applied yet), upgraded.
    app.db
        .execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = 'm20261204_000016_key_refusals_retryable'",
        )
        .await
        .unwrap();
    let applied = paylink_core::store::schema_lock::migrate(&app.db)
        .await
        .unwrap();
    assert_eq!(applied, 1, "migration 16 ran on the old data");
    let refiled = order::find(&app.db, id).await.unwrap().unwrap();
    assert_eq!(refiled.link_failure, Some(order::LinkFailure::KeyRefused));

    let mut app = app;
    app.start_workers();
    let location = app.admin_press("/admin/failures/retry", &[]).await;
    assert!(location.contains("/admin/failures"), "{location}");
    let order = app.wait_until_settled(id).await;
    assert_eq!(order["link_state"], "active", "{order}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_secret_the_dashboard_and_readyz_say_so() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("stripe.webhook_secrets", json!([]))],
        ..AppOptions::default()
    })
    .await;
    let page = app.admin_page("/admin").await;
    assert!(page.contains("id=\"webhook-secret-missing\""), "{page}");
    assert!(page.contains("PAYLINK__STRIPE__WEBHOOK_SECRETS"));
    let ready = readyz(&app).await;
    assert_eq!(ready["webhook_secret"], "missing", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
}

/// `paylink work` (and `serve`, `run`: the same start-up) tries the key at once and says what
/// Stripe said, and keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_work_tries_the_key_at_start_and_names_stripes_refusal() {
    let fake = FakeStripeServer::bind(
        "127.0.0.1:0",
        FakeConfig {
            api_keys: vec![ACCOUNTS_KEY.to_owned()],
            ..FakeConfig::default()
        },
    )
    .await
    .unwrap();
    let api_base = fake.base_url();
    tokio::spawn(fake.run());
    let dir = std::env::temp_dir().join(format!("paylink-key-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = paylink_testkit::Running(
        paylink()
            .arg("work")
            .current_dir(&dir)
            .env("PAYLINK__STRIPE__API_BASE", &api_base)
            .env("PAYLINK__STRIPE__SECRET_KEY", "sk_test_rolled_last_week")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = std::io::BufReader::new(child.0.stderr.take().unwrap());
    let said = tokio::task::spawn_blocking(move || {
        stderr
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("Stripe refused the API key"))
    });
    let line = tokio::time::timeout(Duration::from_secs(30), said)
        .await
        .expect("a line within 30 s")
        .unwrap()
        .expect("paylink work names the refusal");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("Invalid API Key provided"), "{line}");
    assert!(
        !line.contains("sk_test_rolled_last_week"),
        "the key is masked: {line}"
    );
    assert!(child.alive(), "work keeps running");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A test key with `PAYLINK_ENV=production`: Stripe would take it, so no request may be made
/// with it, a payer's click included, and nothing but a start with a key of the right mode
/// clears the pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_the_wrong_mode_makes_no_link_even_on_a_click_until_a_start_clears_it() {
    use paylink_core::stripe_key::{KeyCheck, check_at_start};
    let app = spawn_app_with(AppOptions::default()).await;
    let paused = check_at_start(
        &app.jobs,
        Some("a test-mode key with PAYLINK_ENV=production".into()),
    )
    .await;
    assert!(matches!(paused, KeyCheck::Refused(_)), "{paused:?}");
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(click.status(), 503, "the payer is asked to come back");
    // Longer than the feeders' retry interval: they leave a refusal of the mode alone.
    tokio::time::sleep(paylink_core::stripe_key::RECHECK_EVERY + Duration::from_secs(3)).await;
    let creates = app.fake_stats().await["requests"]["POST /v1/payment_links"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(creates, 0, "no link made with a key of the wrong mode");
    assert_eq!(readyz(&app).await["stripe_key"], "refused");
    assert_eq!(
        app.get_order(order["id"].as_str().unwrap()).await["link_state"],
        "minting"
    );

    // paylink started again with a key of the right mode.
    assert_eq!(check_at_start(&app.jobs, None).await, KeyCheck::Accepted);
    let minted = app.wait_until_settled(order["id"].as_str().unwrap()).await;
    assert_eq!(minted["link_state"], "active", "{minted}");
}
