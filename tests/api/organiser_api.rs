//! What an organiser (the treasurer) meets around the core flow: finding a product again,
//! errors that always speak the API's JSON, cancelled orders that stop counting as failures,
//! and the payer's pages saying what was paid and nothing untrue.

use std::process::{Output, Stdio};

use paylink_core::store::{blast, dashboard, operator};
use serde_json::{Value, json};

use paylink_testkit::{ADMIN_TOKEN, AppOptions, TestApp, spawn_app_with};

use super::blasts::{post_blast, rows};
use super::dashboard::card;

/// An app whose workers are off: these tests are about the intake alone.
async fn intake_only() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

async fn new_product(app: &TestApp, name: &str, currency: &str) -> Value {
    let response = app
        .post_json(
            "/v1/products",
            &json!({"name": name, "category": "monthly", "currency": currency}),
        )
        .await;
    assert_eq!(response.status(), 201, "{name}");
    response.json().await.unwrap()
}

/// Asserts the documented error body and returns it.
async fn json_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let what = format!("{} {}", response.url(), response.status());
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{what}: {body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_listed_newest_first_in_pages_and_found_by_id() {
    let app = intake_only().await;
    let empty: Value = app.get_json("/v1/products").await.json().await.unwrap();
    assert_eq!(empty["data"], json!([]), "{empty}");
    let dues = new_product(&app, "April dues", "usd").await;
    let jerseys = new_product(&app, "Jerseys", "eur").await;
    let tryouts = new_product(&app, "Tryouts", "gbp").await;

    let all = app.get_json("/v1/products").await;
    assert_eq!(all.status(), 200);
    let all: Value = all.json().await.unwrap();
    assert_eq!(all["data"], json!([tryouts, jerseys, dues]), "{all}");
    assert_eq!(all["has_more"], false);

    let first: Value = app
        .get_json("/v1/products?per_page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"], json!([tryouts, jerseys]));
    assert_eq!(
        (first["page"].clone(), first["has_more"].clone()),
        (json!(1), json!(true))
    );
    let second: Value = app
        .get_json("/v1/products?per_page=2&page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"], json!([dues]));
    assert_eq!(second["has_more"], false);

    let found = app
        .get_json(&format!("/v1/products/{}", jerseys["id"].as_str().unwrap()))
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.unwrap(), jerseys);

    json_error(
        app.get_json("/v1/products/prd_nope").await,
        404,
        "not_found",
    )
    .await;
    let bad_page = json_error(
        app.get_json("/v1/products?page=0").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(bad_page["error"]["field"], "page");
    for path in ["/v1/products", "/v1/products/x"] {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        json_error(anonymous, 401, "unauthorized").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_axum_answers_by_itself_is_the_documented_json_error() {
    let app = intake_only().await;
    let send = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(ADMIN_TOKEN)
    };

    // A path that exists, with a method it does not take: 405, and `Allow` says which it does.
    for (method, path, allowed) in [
        (reqwest::Method::DELETE, "/v1/orders/ord_x", "PATCH"),
        (reqwest::Method::PUT, "/v1/products", "POST"),
        (reqwest::Method::GET, "/v1/orders", "POST"),
        (reqwest::Method::GET, "/webhooks/stripe", "POST"),
    ] {
        let response = send(method.clone(), path).send().await.unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(allow.contains(allowed), "{method} {path}: Allow {allow:?}");
        let body = json_error(response, 405, "method_not_allowed").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(method.as_str()),
            "{body}"
        );
    }

    // Path and query strings axum cannot take apart: 400, with axum's reason as the message.
    for (method, path) in [
        (reqwest::Method::POST, "/v1/orders/%FF/cancel"),
        (reqwest::Method::GET, "/v1/orders/%FF%FE"),
        (reqwest::Method::GET, "/v1/blasts/%FF"),
        (reqwest::Method::GET, "/v1/products/%C3"),
        (reqwest::Method::GET, "/v1/products?colour=red"),
        (reqwest::Method::GET, "/v1/blasts/bl_x/orders?page=1&page=2"),
    ] {
        json_error(send(method, path).send().await.unwrap(), 400, "bad_request").await;
    }

    // A body that is not JSON at all.
    let not_json = send(reqwest::Method::POST, "/v1/products")
        .header("content-type", "text/plain")
        .body("name=April dues")
        .send()
        .await
        .unwrap();
    json_error(not_json, 415, "unsupported_media_type").await;

    // The payer's pages keep answering HTML.
    let page = app.client.get(app.url("/pay/nope")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// `paylink blast FILE` against the app's database (its in-process workers mint), to the end.
async fn paylink_blast(app: &TestApp, file: &std::path::Path) -> Output {
    let mut command = super::cli::paylink();
    command
        .arg("blast")
        .arg(file)
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", &app.settings.database.url)
        .env("PAYLINK__PUBLIC_BASE_URL", &app.settings.public_base_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn failures_of(blast_id: &str) -> operator::FailureFilter {
    operator::FailureFilter {
        blast_id: Some(blast_id.to_owned()),
        ..operator::FailureFilter::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_failed_order_is_no_longer_a_failure_anywhere() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"fail_next": 1})).await;
    let product = app.create_product("monthly").await;
    let file = std::env::temp_dir().join(format!(
        "paylink_cancel_{}.csv",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &file,
        format!(
            "external_ref,payer_email,payer_name,product_id,amount_cents\n\
             may-1,a@example.com,Alex,{product},4500\nmay-2,b@example.com,Bo,{product},4500\n"
        ),
    )
    .unwrap();
    let first = paylink_blast(&app, &file).await;
    assert_eq!(
        first.status.code(),
        Some(1),
        "one link failed: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let blast_id = blast::recent(&app.db, 1).await.unwrap()[0].id.clone();
    let failed = operator::failures(&app.db, &failures_of(&blast_id), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let overview = app.admin_page("/admin").await;
    assert_eq!(
        card(&overview, "attention"),
        "Needs attention $45.00 1 order"
    );
    assert!(overview.contains("1 link not made"), "{overview}");

    let cancel = app
        .post_json(&format!("/v1/orders/{}/cancel", failed[0].id), &json!({}))
        .await;
    assert_eq!(cancel.status(), 200);
    let cancelled: Value = cancel.json().await.unwrap();
    assert_eq!(
        (cancelled["status"].clone(), cancelled["link_state"].clone()),
        (json!("cancelled"), json!("failed"))
    );

    let shown: Value = app.get_blast(&blast_id).await;
    assert_eq!(
        shown["counts"],
        json!({"minting": 0, "active": 1, "failed": 0, "deactivated": 0, "paid": 0, "cancelled": 1,
               "emails": {"queued": 0, "sent": 0, "deferred": 0, "rejected": 0, "failed": 0}}),
        "{shown}"
    );
    let still_failed = operator::failures(&app.db, &failures_of(&blast_id), 10)
        .await
        .unwrap();
    assert!(still_failed.is_empty(), "{still_failed:?}");
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let (failed_orders, _) = dashboard::failures_since(&app.db, hour_ago).await.unwrap();
    assert_eq!(failed_orders, 0);
    // The treasurer's overview: the needs-attention figure and the system's problems drop it.
    let overview = app.admin_page("/admin").await;
    assert_eq!(
        card(&overview, "attention"),
        "Needs attention $0.00 0 orders"
    );
    assert_eq!(card(&overview, "cancelled"), "Cancelled $45.00 1 order");
    assert!(overview.contains("0 links not made"), "{overview}");

    let again = paylink_blast(&app, &file).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(stdout.contains(", 0 failed,"), "{stdout}");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_cancelled_before_its_link_was_minted_keeps_no_blast_minting() {
    let app = intake_only().await;
    let product = app.create_product("monthly").await;
    let created = post_blast(&app, "june", rows(&product, 2, "june")).await;
    let blast_id = created["id"].as_str().unwrap();
    let order = &paylink_core::store::order::list_for_blast(&app.db, blast_id, 0, 10)
        .await
        .unwrap()[0];

    let cancel = app
        .post_json(&format!("/v1/orders/{}/cancel", order.id), &json!({}))
        .await;

    assert_eq!(cancel.status(), 200);
    let counts = blast::counts(&app.db, blast_id).await.unwrap();
    assert_eq!((counts.minting, counts.cancelled), (1, 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thank_you_page_names_the_item_and_the_amount() {
    let app = paylink_testkit::spawn_app().await;
    let product = new_product(&app, "April dues", "usd").await;
    let order = app
        .create_order(product["id"].as_str().unwrap(), 4500)
        .await;
    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;
    let thanks = format!("{}/thanks", order["pay_url"].as_str().unwrap());

    let confirming = app.client.get(&thanks).send().await.unwrap();
    assert_eq!(confirming.status(), 200);
    let confirming = confirming.text().await.unwrap();
    assert!(
        confirming.contains("we are confirming your payment"),
        "{confirming}"
    );
    assert!(confirming.contains("$45.00 for April dues"), "{confirming}");

    let session = app
        .complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    let paid = app
        .client
        .get(format!("{thanks}?session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let paid = paid.text().await.unwrap();
    assert!(paid.contains("your payment is recorded"), "{paid}");
    assert!(paid.contains("You paid $45.00 for April dues."), "{paid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_link_asks_the_payer_to_contact_the_organiser_and_waits_in_the_failures() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"fail_next": 1})).await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 2000).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.wait_until_settled(id).await["link_state"], "failed");

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 503);
    let page = click.text().await.unwrap();
    assert!(
        page.contains("This payment link could not be prepared"),
        "{page}"
    );
    assert!(page.contains("contact the organiser"), "{page}");
    assert!(!page.contains("has been told"), "{page}");
    let failures = operator::failures(&app.db, &operator::FailureFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        failures.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [id]
    );
}
