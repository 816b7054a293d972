//! Before money moves: `POST /v1/blasts?dry_run=true` answers what a blast would create (totals
//! per currency, rows already stored, amounts that look wrong) and creates nothing; a blast
//! whose every row already is an order creates no empty blast; a row may name its product by
//! name.

use serde_json::{Value, json};

use paylink_testkit::{AppOptions, TestApp, spawn_app_with};

use crate::blasts::{post_blast, rows};

async fn app_without_workers() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

fn order(external_ref: &str, product: &str, amount_cents: i64) -> Value {
    json!({
        "external_ref": external_ref,
        "product_id": product,
        "amount_cents": amount_cents,
        "payer": {"email": format!("{external_ref}@example.com"), "name": "Payer"}
    })
}

async fn dry_run(app: &TestApp, name: &str, orders: Vec<Value>) -> (u16, Value) {
    let response = app
        .post_json(
            "/v1/blasts?dry_run=true",
            &json!({"name": name, "orders": orders}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn warning<'a>(preview: &'a Value, code: &str) -> &'a Value {
    preview["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == code)
        .unwrap_or_else(|| panic!("a {code} warning in {preview}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_a_dollars_column_totals_it_warns_and_creates_nothing() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let orders = vec![
        order("d-0", &product, 60),
        order("d-1", &product, 45),
        order("d-2", &product, 60),
        order("d-3", &product, 4_500_000),
    ];

    let (status, preview) = dry_run(&app, "Dues", orders).await;

    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["rows"], 4);
    assert_eq!(preview["new"], 4);
    assert_eq!(preview["existing"], 0);
    let usd = &preview["currencies"][0];
    assert_eq!(usd["currency"], "usd");
    assert_eq!(usd["count"], 4);
    assert_eq!(usd["total"], 4_500_165);
    assert_eq!(usd["min"], 45);
    assert_eq!(usd["max"], 4_500_000);
    assert_eq!(usd["formatted"]["total"], "$45,001.65");
    assert_eq!(usd["formatted"]["min"], "$0.45");
    assert_eq!(usd["formatted"]["max"], "$45,000.00");
    assert_eq!(preview["currencies"].as_array().unwrap().len(), 1);
    assert_eq!(warning(&preview, "below_minimum")["rows"], json!([1]));
    assert_eq!(warning(&preview, "far_from_median")["rows"], json!([3]));
    let dollars = warning(&preview, "looks_like_whole_units");
    assert_eq!(dollars["rows"], json!([0, 1, 2]));
    assert!(
        dollars["message"].as_str().unwrap().contains("$0.60"),
        "{dollars}"
    );
    assert_eq!(preview["warnings"].as_array().unwrap().len(), 3);
    assert_eq!(app.count_orders().await, 0);
    assert_eq!(app.count_rows("blasts").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_refuses_bad_rows_as_a_blast_does_and_counts_existing_ones() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let first = post_blast(&app, "May", rows(&product, 2, "may")).await;
    let mut orders = rows(&product, 3, "may");
    orders[2]["external_ref"] = json!("june-0");

    let (status, preview) = dry_run(&app, "May and June", orders.clone()).await;
    orders[2]["payer"]["email"] = json!("nobody");
    let (bad_status, refused) = dry_run(&app, "May and June", orders).await;

    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["new"], 1);
    assert_eq!(preview["existing"], 2);
    assert_eq!(preview["existing_blasts"], json!([first["id"]]));
    assert_eq!(preview["currencies"][0]["new_total"], 1002);
    assert_eq!(preview["warnings"], json!([]));
    assert_eq!(bad_status, 422, "{refused}");
    assert_eq!(refused["error"]["rows"][0]["row"], 2);
    assert_eq!(refused["error"]["rows"][0]["field"], "payer.email");
    assert_eq!(app.count_orders().await, 2);
    assert_eq!(app.count_rows("blasts").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_all_exist_under_another_name_make_no_empty_blast() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let orders = rows(&product, 3, "june");
    let first = post_blast(&app, "June", orders.clone()).await;

    let response = app
        .post_json(
            "/v1/blasts",
            &json!({"name": "June again", "orders": orders.clone()}),
        )
        .await;
    let status = response.status();
    let again: Value = response.json().await.unwrap();

    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["name"], "June");
    assert_eq!(again["size"], 3);
    assert_eq!(again["existing"], 3);
    assert_eq!(app.count_rows("blasts").await, 1);
    assert_eq!(app.count_orders().await, 3);

    // Two rows more: a new blast of those two only.
    let mut more = orders;
    more.extend(rows(&product, 2, "june-late"));
    let extra = post_blast(&app, "June extra", more).await;
    assert_eq!(extra["created"], true);
    assert_eq!(extra["size"], 2);
    assert_eq!(extra["existing"], 3);
    assert_eq!(extra["existing_blasts"], json!([first["id"]]));
    let shown: Value = app
        .get_json(&format!("/v1/blasts/{}", extra["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["size"], 2);
    assert_eq!(app.count_orders().await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_may_name_its_product_by_name() {
    let app = app_without_workers().await;
    let cup = app
        .create_named_product("Tournament fee", "tournament")
        .await;
    // One name in two categories: a name alone cannot say which.
    let dues_a = app.create_named_product("Monthly fee", "monthly").await;
    let dues_b = app.create_named_product("Monthly fee", "tournament").await;
    let mut by_name = order("n-0", "x", 4500);
    by_name.as_object_mut().unwrap().remove("product_id");
    by_name["product"] = json!(" Tournament FEE ");

    let made = post_blast(&app, "Cup", vec![by_name]).await;
    let ambiguous = app
        .post_json(
            "/v1/blasts",
            &json!({"name": "Dues", "orders": [order("n-1", "monthly fee", 4500), order("n-2", "jerseys", 4500)]}),
        )
        .await;

    assert_eq!(made["created"], true);
    let stored = app
        .get_json(&format!(
            "/v1/blasts/{}/orders",
            made["id"].as_str().unwrap()
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let order_id = stored["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_order(&order_id).await["product_id"], cup);
    assert_eq!(ambiguous.status(), 422);
    let error: Value = ambiguous.json().await.unwrap();
    let rows = error["error"]["rows"].as_array().unwrap();
    let twice = rows[0]["message"].as_str().unwrap();
    assert!(
        twice.contains(&dues_a) && twice.contains(&dues_b),
        "{twice}"
    );
    assert!(
        rows[1]["message"].as_str().unwrap().contains("\"jerseys\""),
        "{error}"
    );
    assert_eq!(app.count_orders().await, 1);
}
