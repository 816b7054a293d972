//! Hostile input (docs/security.md): absurd pages, oversized bodies, dashboard
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
async fn like_filter_matches_wildcards_literally(kind: Db) {
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
            order::mark_link_failed(
                &db,
                &o.id,
                o.link_generation,
                error,
                order::LinkFailure::GaveUp
            )
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
/// `routes::webhooks::MAX_BODY_BYTES`, documented in docs/api.md as "413 over 1 MiB".
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
async fn every_body_one_byte_over_its_limit_is_413() {
    use reqwest::Method;
    let app = intake_only().await;
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    for (method, path, limit) in [
        (Method::POST, "/v1/orders", MAX_BODY_BYTES),
        (Method::POST, "/v1/products", MAX_BODY_BYTES),
        (Method::PATCH, "/v1/orders/ord_x", MAX_BODY_BYTES),
        (Method::POST, "/v1/blasts", BLAST_BODY_BYTES),
        (Method::POST, "/v1/webhook_endpoints", MAX_BODY_BYTES),
        (
            Method::POST,
            "/v1/webhook_endpoints/we_x/replay",
            MAX_BODY_BYTES,
        ),
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

    for path in [
        "/admin/login",
        "/admin/failures/retry",
        "/admin/logout",
        "/admin/orders/ord_x/amount",
        "/admin/orders/ord_x/retry",
        "/admin/orders/ord_x/cancel",
        "/admin/events/evt_x/replay",
        "/admin/webhooks/we_x/replay",
        "/admin/webhooks/deliveries/1/resend",
    ] {
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

/// GET `path` with the admin token; the request must be answered, not dropped.
async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} answered, not dropped: {e}"))
}

/// Pages no listing can have, and values that are not page numbers at all.
const BAD_PAGES: [&str; 8] = [
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "1000001",
    "0",
    "-1",
    "abc",
    "",
];

/// `?page=` on the API: an absurd page or a non-number is a 422 naming `page` (the request is
/// answered, not dropped by an overflow), in JSON and CSV alike; real pages still work, up to
/// the highest allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_pages_of_a_blast_are_422_naming_page() {
    let app = intake_only().await;
    let product = app.create_product("generic").await;
    let blast =
        crate::blasts::post_blast(&app, "paged", crate::blasts::rows(&product, 3, "paged")).await;
    let orders = format!("/v1/blasts/{}/orders", blast["id"].as_str().unwrap());

    for page in BAD_PAGES {
        for accept in ["application/json", "text/csv"] {
            let path = format!("{orders}?page={page}&per_page=1000");
            let response = get(&app, &path, accept).await;
            assert_eq!(response.status(), 422, "{path} ({accept})");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "validation_failed", "{path}: {body}");
            assert_eq!(body["error"]["field"], "page", "{path}: {body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("page"),
                "{body}"
            );
        }
    }
    let response = get(&app, &format!("{orders}?per_page=lots"), "application/json").await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "per_page", "{body}");

    let second = get(
        &app,
        &format!("{orders}?page=2&per_page=2"),
        "application/json",
    )
    .await;
    assert_eq!(second.status(), 200);
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(
        (second["page"].as_u64(), second["has_more"].as_bool()),
        (Some(2), Some(false))
    );
    let last = get(
        &app,
        &format!(
            "{orders}?page={}&per_page=1000",
            paylink_core::domain::MAX_PAGE
        ),
        "application/json",
    )
    .await;
    assert_eq!(
        last.status(),
        200,
        "the highest page is empty, not an error"
    );
    let last: serde_json::Value = last.json().await.unwrap();
    assert_eq!(last["data"], serde_json::json!([]));
}

/// `?page=` on the dashboard's blast page: the same checks, answered with a 422 page naming
/// `page`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_dashboard_pages_are_a_422_page_naming_page() {
    let app = intake_only().await;
    let product = app.create_product("generic").await;
    let blast =
        crate::blasts::post_blast(&app, "paged", crate::blasts::rows(&product, 3, "paged")).await;
    let page = format!("/admin/blasts/{}", blast["id"].as_str().unwrap());

    for bad in BAD_PAGES {
        let path = format!("{page}?page={bad}");
        let response = get(&app, &path, "text/html").await;
        assert_eq!(response.status(), 422, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(
            html.contains("page: must be a whole number from 1 to 1000000"),
            "{path}: {html}"
        );
    }
    let first = get(&app, &page, "text/html").await;
    assert_eq!(first.status(), 200);
    assert!(first.text().await.unwrap().contains("Orders 1–3."));
    let second = get(&app, &format!("{page}?page=2"), "text/html").await;
    assert_eq!(second.status(), 200);
    let second = second.text().await.unwrap();
    assert!(second.contains("No orders on page 2."), "{second}");
    assert!(second.contains("?page=1\">Previous page"), "{second}");
}

/// The failures page shows only notices the dashboard itself names, by code: text in the link
/// is never shown, an unknown code shows nothing, and a real action's notice still reads whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_notices_are_codes_not_text_from_the_link() {
    let app = intake_only().await;
    for (query, planted) in [
        ("notice=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "alert(1)"),
        (
            "notice=Your+account+is+locked%2C+call+555-0100",
            "call 555-0100",
        ),
        ("notice=cancelled+order+ord_x", "ord_x"),
        ("notice=retried_matching&count=%3Cb%3E9%3C%2Fb%3E", "9</b>"),
    ] {
        let page = app.admin_page(&format!("/admin/failures?{query}")).await;
        assert!(
            !page.contains(planted),
            "{query}: {planted:?} is on the page"
        );
        assert!(!page.contains(&planted.replace('<', "&lt;")), "{query}");
    }
    let unknown = app.admin_page("/admin/failures?notice=Hello").await;
    assert!(
        !unknown.contains("role=\"status\""),
        "an unknown code shows no notice"
    );

    // A real action: cancel a pending order. The redirect names the notice by code only.
    let product = app.create_product("generic").await;
    let order = app.create_order(&product, 1500).await;
    let id = order["id"].as_str().unwrap();
    let location = app
        .admin_press(&format!("/admin/orders/{id}/cancel"), &[])
        .await;
    assert!(location.contains("notice=cancelled"), "{location}");
    let page = app.admin_page(&location).await;
    // The order is named by its external ref as stored, looked up by the id in the link.
    let external_ref = order["external_ref"].as_str().unwrap();
    assert!(
        page.contains(&format!("Order {external_ref}: The order was cancelled.")),
        "{page}"
    );
    // An `order` that names no order adds nothing to the notice.
    let page = app
        .admin_page("/admin/failures?notice=cancelled&order=%3Cscript%3E")
        .await;
    assert!(page.contains(">The order was cancelled.<"), "{page}");
    assert_eq!(app.get_order(id).await["status"], "cancelled");

    let location = app
        .admin_press(&format!("/admin/orders/{id}/cancel"), &[])
        .await;
    let page = app.admin_page(&location).await;
    assert!(
        page.contains("only a pending order can be cancelled"),
        "{location}"
    );

    // Retry all matching carries its count in a parameter of its own.
    let location = app
        .admin_press(
            "/admin/failures/retry",
            &[("blast", ""), ("error", "HTTP 500")],
        )
        .await;
    assert!(
        location.contains("notice=retried_matching&count=0"),
        "{location}"
    );
    let page = app.admin_page(&location).await;
    assert!(
        page.contains("0 order(s) will have a pay link made again."),
        "{page}"
    );
}

/// An id goes into the dashboard's links and form actions as one percent-encoded path segment:
/// a Stripe event id holding `/`, `?`, `#`, a space and `%` shows a Replay form whose action
/// reaches that very event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_with_url_characters_stays_one_path_segment() {
    let app = paylink_testkit::spawn_app().await;
    let stray = serde_json::json!({"id": "ord_unknown", "stripe_payment_link_id": "plink_unknown"});
    let mut event = crate::webhooks::completed_event(&stray, "paid");
    let id = "evt_a/b?c#d e%2F";
    event["id"] = serde_json::json!(id);
    assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    let outcome = paylink_testkit::eventually(std::time::Duration::from_secs(10), || async {
        app.event_outcome(id).await
    })
    .await;
    assert_eq!(
        outcome.as_deref(),
        Some("unknown_order"),
        "the event failed, for the operator"
    );

    let page = app.admin_page("/admin/failures").await;
    let action = "/admin/events/evt_a%2Fb%3Fc%23d%20e%252F/replay";
    assert!(page.contains(&format!("action=\"{action}\"")), "{page}");
    let location = app.admin_press(action, &[]).await;
    assert!(
        location.contains("notice=replayed"),
        "the form replays this event: {location}"
    );
}

/// The value of one sample (`name{labels}`) in a `/metrics` scrape of `app`.
async fn scrape(app: &TestApp, sample: &str) -> Option<f64> {
    let text = app.metrics_text().await;
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// `/metrics` reads the deployment's gauges once per interval: an order created between two
/// scrapes does not move `paylink_orders` until the interval has passed, then it does. (Were
/// the `GROUP BY` run on every scrape, the second scrape would count the order at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_gauges_are_read_once_per_interval() {
    // `routes::metrics::GAUGES_TTL`, which the crate does not export.
    const GAUGES_TTL: std::time::Duration = std::time::Duration::from_secs(5);
    let app = intake_only().await;
    let minting = "paylink_orders{link_state=\"minting\"}";
    let product = app.create_product("generic").await;

    let started = std::time::Instant::now();
    assert_eq!(scrape(&app, minting).await, Some(0.0));
    app.create_order(&product, 1200).await;
    assert_eq!(app.count_orders().await, 1);
    let cached = scrape(&app, minting).await;
    assert!(
        started.elapsed() < GAUGES_TTL,
        "the two scrapes took longer than the interval; the machine is too slow for this check"
    );
    assert_eq!(
        cached,
        Some(0.0),
        "the second scrape reused the first one's read"
    );

    let moved = paylink_testkit::eventually(GAUGES_TTL * 3, || async {
        (scrape(&app, minting).await == Some(1.0)).then_some(())
    })
    .await;
    assert!(
        moved.is_some(),
        "after the interval a scrape reads the gauges again"
    );
    assert!(
        started.elapsed() >= GAUGES_TTL,
        "not before the interval passed"
    );
}

/// A delivery whose `t=` is not plain Unix seconds is refused with 400 and stored nowhere,
/// even when its `v1` is a good signature of the canonical timestamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_timestamp_other_than_plain_digits_is_400() {
    let app = intake_only().await;
    let order = serde_json::json!({"id": "ord_x", "stripe_payment_link_id": "plink_x"});
    let body = crate::webhooks::completed_event(&order, "paid").to_string();
    let now = chrono::Utc::now().timestamp();
    let signed = paylink_testkit::sign(paylink_testkit::WEBHOOK_SECRET, now, &body);
    let v1 = signed.split_once(",v1=").unwrap().1;
    for t in [
        format!("+{now}"),
        format!("0{now}"),
        "-5".into(),
        "\u{ff11}\u{ff12}".into(),
        String::new(),
    ] {
        let response = app
            .send_webhook_raw(&body, Some(&format!("t={t},v1={v1}")))
            .await;
        assert_eq!(response.status(), 400, "t={t:?}");
        let error: serde_json::Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("signature refused: malformed Stripe-Signature header"),
            "{error}"
        );
    }
    assert_eq!(app.count_rows("stripe_events").await, 0);
    let good = app.send_webhook_raw(&body, Some(&signed)).await;
    assert_eq!(good.status(), 200, "the canonical spelling is accepted");
}

/// A query string the failures page cannot read is answered with a page that says why, not
/// with axum's plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_failures_query_is_an_html_400() {
    let app = intake_only().await;
    for query in ["blast=a&blast=b", "notice=a&notice=b"] {
        let response = get(&app, &format!("/admin/failures?{query}"), "text/html").await;
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        assert_eq!(status, 400, "{query}");
        assert!(
            content_type.starts_with("text/html"),
            "{query}: {content_type}"
        );
        assert!(
            body.contains("The address could not be read"),
            "{query}: {body}"
        );
    }
}

paylink_testkit::on_every_database!(like_filter_matches_wildcards_literally);
