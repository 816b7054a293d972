//! Products are never made twice by mistake: `POST /v1/products` and the dashboard's "New
//! product" refuse a second product of the same name (case and spacing aside) and category,
//! naming the first (docs/api.md, "HTTP API").

use serde_json::{Value, json};

use paylink_testkit::{ADMIN_TOKEN, AppOptions, TestApp, spawn_app_with};

async fn intake_only() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

async fn post_product(app: &TestApp, name: &str, category: &str) -> reqwest::Response {
    app.post_json(
        "/v1/products",
        &json!({"name": name, "category": category, "currency": "usd"}),
    )
    .await
}

/// Presses "New product" with `csrf` as the form's token.
async fn press_new_product(app: &TestApp, name: &str, csrf: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/products"))
        .bearer_auth(ADMIN_TOKEN)
        .form(&[
            ("name", name),
            ("category", "monthly"),
            ("currency", "usd"),
            ("csrf", csrf),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_product_of_the_same_name_and_category_is_refused_naming_the_first() {
    let app = intake_only().await;
    let first = post_product(&app, "Monthly dues", "monthly").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap();

    for same in ["Monthly dues", "monthly dues ", "  MONTHLY   Dues"] {
        let again = post_product(&app, same, "monthly").await;
        assert_eq!(again.status(), 409, "{same:?}");
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["error"]["code"], "conflict", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(id) && message.contains("/admin/products"),
            "{message}"
        );
    }
    assert_eq!(app.count_rows("products").await, 1);

    // Another category, or another name, is another product.
    assert_eq!(
        post_product(&app, "Monthly dues", "tournament")
            .await
            .status(),
        201
    );
    assert_eq!(
        post_product(&app, "Monthly dues 2", "monthly")
            .await
            .status(),
        201
    );
    assert_eq!(app.count_rows("products").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_creates_a_product_and_refuses_a_duplicate_with_a_link_to_the_first() {
    let app = intake_only().await;
    let csrf = app.admin_csrf().await;

    let created = press_new_product(&app, "September dues", &csrf).await;
    assert_eq!(created.status(), 303);
    let to = created.headers()["location"].to_str().unwrap().to_owned();
    let listed: Value = app.get_json("/v1/products").await.json().await.unwrap();
    let id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["data"][0]["name"], "September dues");
    assert_eq!(to, format!("/admin/products?created={id}"));
    let page = app.admin_page(&to).await;
    assert!(page.contains("Created September dues"), "{page}");
    assert!(page.contains(&format!("<tr id=\"{id}\">")), "{page}");

    let duplicate = press_new_product(&app, "september DUES", &csrf).await;
    assert_eq!(duplicate.status(), 409);
    let page = duplicate.text().await.unwrap();
    assert!(page.contains("exists already"), "{page}");
    assert!(
        page.contains(&format!("href=\"/admin/products#{id}\"")),
        "the refusal links to the first: {page}"
    );
    assert_eq!(app.count_rows("products").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_new_product_form_without_its_csrf_token_is_refused() {
    let app = intake_only().await;
    for csrf in ["", "not-the-token"] {
        let refused = press_new_product(&app, "September dues", csrf).await;
        assert_eq!(refused.status(), 403, "{csrf:?}");
    }
    assert_eq!(app.count_rows("products").await, 0);
}

/// On the embedded default too (SQLite's own `LOWER` folds ASCII only), a row names a product
/// whatever the case of its accented letters and its spacing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_is_named_whatever_the_case_of_its_accents_on_sqlite() {
    let app = paylink_testkit::spawn_app_with(paylink_testkit::AppOptions {
        workers: false,
        ..paylink_testkit::AppOptions::on(paylink_testkit::Stack::Embedded)
    })
    .await;
    let product = app.create_named_product("Équipe d'été", "tournament").await;
    let mut body = paylink_testkit::order_body(&product, 4500);
    body.as_object_mut().unwrap().remove("product_id");
    body["product"] = serde_json::json!("  ÉQUIPE   D'ÉTÉ ");
    let created = app.post_order(&body).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["product_id"], product);
}
