//! Issue 14, "Hardened for the open internet": absurd pages, oversized bodies, dashboard
//! notices, `LIKE` filters, ids in dashboard URLs, and the cost of a `/metrics` scrape. Each
//! test sends what a careless or hostile client would and checks the answer.

use paylink::startup::MAX_BODY_BYTES;
use paylink_core::domain::{AmountCents, Currency, Email};
use paylink_core::store::operator::{self, FailureFilter};
use paylink_core::store::{self, order, product};
use sea_orm::DatabaseConnection;

use paylink_testkit::{ADMIN_TOKEN, AppOptions, Db, TestApp, TestDatabase, spawn_app_with};

async fn migrated(kind: Db) -> (TestDatabase, DatabaseConnection) {
    let database = TestDatabase::create(kind).await;
    let db = store::connect(&database.url, 5).await.expect("connects");
    store::schema_lock::migrate(&db).await.expect("migrates");
    (database, db)
}

fn new_order(product_id: &str, external_ref: &str) -> order::NewOrder {
    order::NewOrder {
        external_ref: external_ref.into(),
        product_id: product_id.into(),
        blast_id: None,
        payer_email: Email::parse("payer.email", "p@example.com").unwrap(),
        payer_name: "P".into(),
        amount_cents: AmountCents::parse("amount_cents", 100).unwrap(),
        currency: Currency::parse("currency", "usd").unwrap(),
    }
}

fn error_contains(text: &str) -> FailureFilter {
    FailureFilter {
        error_contains: Some(text.into()),
        ..FailureFilter::default()
    }
}

/// `%`, `_` and `\` in the failures filter are the characters themselves, not wildcards: a
/// filter of `%` must not select (and "Retry all matching" must not retry) every failed order.
async fn security_b_like_filter_matches_wildcards_literally(kind: Db) {
    let (_guard, db) = migrated(kind).await;
    let product = product::insert(&db, "Dues", "monthly", "usd")
        .await
        .unwrap();
    let mut refs = std::collections::HashMap::new();
    for (external_ref, error) in [
        ("percent", "100% refused"),
        ("underscore", "card_declined"),
        ("backslash", r"C:\stripe"),
        ("plain", "HTTP 500"),
    ] {
        let (o, _) = order::insert_or_get(&db, new_order(&product.id, external_ref))
            .await
            .unwrap();
        assert!(
            order::mark_link_failed(&db, &o.id, o.link_generation, error)
                .await
                .unwrap()
        );
        refs.insert(o.id, external_ref);
    }

    for (filter, expected) in [
        ("%", vec!["percent"]),
        ("_", vec!["underscore"]),
        (r"\", vec!["backslash"]),
        ("0% r", vec!["percent"]),
        ("1_0", vec![]),
        ("HTTP", vec!["plain"]),
    ] {
        let found = operator::failures(&db, &error_contains(filter), 100)
            .await
            .unwrap();
        let mut found: Vec<&str> = found.iter().map(|o| refs[&o.id]).collect();
        found.sort_unstable();
        assert_eq!(found, expected, "error contains {filter:?}");
    }

    let retried = operator::retry_failed(&db, &error_contains("%"))
        .await
        .unwrap();
    assert_eq!(
        retried, 1,
        "a filter of % retries only the order whose error holds a %"
    );
}

/// `routes::blasts::MAX_BODY_BYTES`: room for 10,000 orders.
const BLAST_BODY_BYTES: usize = 16 * 1024 * 1024;
/// `routes::webhooks::MAX_BODY_BYTES`, documented in the README as "413 over 1 MiB".
const WEBHOOK_BODY_BYTES: usize = 1024 * 1024;

/// An app with no workers: these tests only talk to the intake.
async fn intake_only() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

/// A JSON object exactly `len` bytes long.
fn json_of_len(len: usize) -> String {
    let pad = len - r#"{"pad":""}"#.len();
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad))
}

/// A form body exactly `len` bytes long.
fn form_of_len(len: usize) -> String {
    format!("csrf={}", "x".repeat(len - "csrf=".len()))
}

async fn send_body(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path} answered, not dropped: {e}"))
}

/// Every route that takes a body answers one byte over its limit with 413: the API's JSON
/// error (`payload_too_large`) on `/v1` and `/webhooks/stripe`, an HTML page on `/admin`. A body
/// at the limit is read (and refused for what it says, not for its size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_b_every_body_one_byte_over_its_limit_is_413() {
    use reqwest::Method;
    let app = intake_only().await;
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    for (method, path, limit) in [
        (Method::POST, "/v1/orders", MAX_BODY_BYTES),
        (Method::POST, "/v1/products", MAX_BODY_BYTES),
        (Method::PATCH, "/v1/orders/ord_x", MAX_BODY_BYTES),
        (Method::POST, "/v1/blasts", BLAST_BODY_BYTES),
        (Method::POST, "/webhooks/stripe", WEBHOOK_BODY_BYTES),
    ] {
        let over = send_body(&app, method.clone(), path, json, json_of_len(limit + 1)).await;
        assert_eq!(over.status(), 413, "{method} {path}, {} bytes", limit + 1);
        let body: serde_json::Value = over.json().await.unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large", "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
        let at = send_body(&app, method.clone(), path, json, json_of_len(limit)).await;
        assert_ne!(
            at.status(),
            413,
            "{method} {path}, {limit} bytes is within the limit"
        );
    }
    // The blast route's own limit is above the default one.
    let blast = send_body(
        &app,
        Method::POST,
        "/v1/blasts",
        json,
        json_of_len(MAX_BODY_BYTES + 1),
    )
    .await;
    assert_eq!(blast.status(), 422);

    for path in ["/admin/login", "/admin/failures/retry", "/admin/logout"] {
        let over = send_body(
            &app,
            Method::POST,
            path,
            form,
            form_of_len(MAX_BODY_BYTES + 1),
        )
        .await;
        assert_eq!(over.status(), 413, "POST {path}");
        assert!(
            over.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "POST {path} answers a page"
        );
        assert!(
            over.text()
                .await
                .unwrap()
                .contains("larger than the dashboard accepts")
        );
        let at = send_body(&app, Method::POST, path, form, form_of_len(MAX_BODY_BYTES)).await;
        assert_ne!(at.status(), 413, "POST {path} at the limit");
    }
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(paylink_testkit::Db::Postgres).await }
            )*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(paylink_testkit::Db::Sqlite).await }
            )*
        }
    };
}

on_both_databases!(security_b_like_filter_matches_wildcards_literally);
