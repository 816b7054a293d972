//! `POST /v1/products`, `POST /v1/orders`, `GET /v1/orders/{id}`: validation, auth, idempotency;
//! `PATCH /v1/orders/{id}` (a new amount) and `POST /v1/orders/{id}/cancel`.

use std::time::Duration;

use serde_json::{Value, json};

use paylink_testkit::{AppOptions, order_body, spawn_app_with};

/// An app whose workers are off: these tests are about the intake alone.
async fn intake_only() -> paylink_testkit::TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_stored_minting_with_a_pay_url() {
    let app = intake_only().await;
    let product = app.create_product("monthly").await;

    let order = app.create_order(&product, 4500).await;

    assert_eq!(order["status"], "pending");
    assert_eq!(order["link_state"], "minting");
    assert_eq!(order["amount_cents"], 4500);
    assert_eq!(order["currency"], "usd");
    let pay_url = order["pay_url"].as_str().unwrap();
    assert!(
        pay_url.starts_with(&format!("{}/pay/", app.address)),
        "{pay_url}"
    );
    assert_eq!(
        pay_url.rsplit('/').next().unwrap().len(),
        32,
        "128-bit token, hex"
    );
    assert_eq!(
        app.get_order(order["id"].as_str().unwrap()).await["external_ref"],
        order["external_ref"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_external_ref_returns_the_existing_order() {
    let app = intake_only().await;
    let product = app.create_product("jersey").await;
    let body = order_body(&product, 3000);

    let first = app.post_order(&body).await;
    let second = app.post_order(&body).await;

    assert_eq!(first.status(), 201);
    assert_eq!(second.status(), 200);
    let (first, second): (Value, Value) =
        (first.json().await.unwrap(), second.json().await.unwrap());
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.count_orders().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_external_ref_with_another_amount_is_a_conflict() {
    let app = intake_only().await;
    let product = app.create_product("jersey").await;
    let mut body = order_body(&product, 3000);
    let first: Value = app.post_order(&body).await.json().await.unwrap();

    body["amount_cents"] = json!(3100);
    let response = app.post_order(&body).await;

    assert_eq!(response.status(), 409);
    assert_eq!(
        app.get_order(first["id"].as_str().unwrap()).await["amount_cents"],
        3000
    );
    assert_eq!(app.count_orders().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_orders_get_422_naming_the_field_and_write_nothing() {
    let app = intake_only().await;
    let product = app.create_product("monthly").await;
    let valid = order_body(&product, 2500);
    let with = |pointer: &str, value: Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases = [
        (with("/amount_cents", json!(0)), "amount_cents"),
        (with("/amount_cents", json!(-500)), "amount_cents"),
        (with("/amount_cents", json!(100_000_000)), "amount_cents"),
        (with("/product_id", json!("prd_nope")), "product_id"),
        (with("/payer/email", json!("not-an-email")), "payer.email"),
        (
            with("/payer/email", json!("a b@example.com")),
            "payer.email",
        ),
        (with("/payer/name", json!("  ")), "payer.name"),
        (with("/external_ref", json!("")), "external_ref"),
        (
            {
                let mut b = valid.clone();
                b["currency"] = json!("dollars");
                b
            },
            "currency",
        ),
        (
            {
                let mut b = valid.clone();
                b.as_object_mut().unwrap().remove("amount_cents");
                b
            },
            "amount_cents",
        ),
        (with("/amount_cents", json!("12.50")), "amount_cents"),
    ];
    for (body, field) in cases {
        let response = app.post_order(&body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "validation_failed");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "message {message:?} names {field}");
    }
    assert_eq!(app.count_orders().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_and_writes_nothing() {
    let app = intake_only().await;
    let response = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"external_ref\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );
    assert_eq!(app.count_orders().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_admin_token_get_401_and_write_nothing() {
    let app = intake_only().await;
    let product = app.create_product("monthly").await;
    let body = order_body(&product, 2500);

    let none = app
        .client
        .post(app.url("/v1/orders"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let wrong = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    let read = app
        .client
        .get(app.url("/v1/orders/ord_x"))
        .send()
        .await
        .unwrap();
    let product_post = app
        .client
        .post(app.url("/v1/products"))
        .json(&json!({"name": "x", "category": "monthly", "currency": "usd"}))
        .send()
        .await
        .unwrap();

    for response in [none, wrong, read, product_post] {
        assert_eq!(response.status(), 401);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized");
    }
    assert_eq!(app.count_orders().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_order_is_404() {
    let app = intake_only().await;
    let response = app.get_json("/v1/orders/ord_doesnotexist").await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_products_get_422() {
    let app = intake_only().await;
    for (body, field) in [
        (
            json!({"name": "Dues", "category": "weekly", "currency": "usd"}),
            "category",
        ),
        (
            json!({"name": "Dues", "category": "monthly", "currency": "us"}),
            "currency",
        ),
        (
            json!({"name": "", "category": "monthly", "currency": "usd"}),
            "name",
        ),
    ] {
        let response = app.post_json("/v1/products", &body).await;
        assert_eq!(response.status(), 422);
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_amount_mints_a_new_link_behind_the_same_pay_url_and_switches_the_old_one_off() {
    let app = paylink_testkit::spawn_app().await;
    let order = app.minted_order("monthly", 4500).await;
    let id = order["id"].as_str().unwrap();
    let old_link = order["stripe_payment_link_id"].as_str().unwrap().to_owned();

    let changed = app.patch_order(id, &json!({"amount_cents": 6000})).await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["amount_cents"], 6000);
    assert_eq!(changed["link_generation"], 1);
    assert_eq!(
        changed["pay_url"], order["pay_url"],
        "the pay URL never changes"
    );

    let minted = app
        .wait_for_order(id, "minted at the new amount", |o| {
            o["link_state"] == "active" && o["stripe_payment_link_id"] != old_link.as_str()
        })
        .await;
    let new_link = minted["stripe_payment_link_id"].as_str().unwrap();
    let items = app
        .stripe_get(&format!("payment_links/{new_link}/line_items"))
        .await;
    assert_eq!(items["data"][0]["price"]["unit_amount"], 6000);
    paylink_testkit::eventually(Duration::from_secs(10), || async {
        (app.stripe_get(&format!("payment_links/{old_link}")).await["active"] == false)
            .then_some(())
    })
    .await
    .expect("the link at the old amount is switched off");
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(
        click.headers()["location"],
        minted["stripe_payment_link_url"].as_str().unwrap()
    );
    assert_eq!(
        app.stripe_links_for(id).await.len(),
        2,
        "old and new, no third"
    );

    // The same amount again changes nothing.
    let same: Value = app
        .patch_order(id, &json!({"amount_cents": 6000}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["link_generation"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_amount_changes_are_refused_and_change_nothing() {
    let app = paylink_testkit::spawn_app().await;
    let order = app.minted_order("jersey", 2500).await;
    let id = order["id"].as_str().unwrap();
    for (body, status) in [
        (json!({"amount_cents": -5}), 422),
        (json!({"amount_cents": 0}), 422),
        (json!({"amount": 100}), 422),
        (json!({"amount_cents": "12"}), 422),
    ] {
        let response = app.patch_order(id, &body).await;
        assert_eq!(response.status(), status, "{body}");
    }
    assert_eq!(
        app.patch_order("ord_nope", &json!({"amount_cents": 100}))
            .await
            .status(),
        404
    );
    let unauthorised = app
        .client
        .patch(app.url(&format!("/v1/orders/{id}")))
        .json(&json!({"amount_cents": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let unchanged = app.get_order(id).await;
    assert_eq!(unchanged["amount_cents"], 2500);
    assert_eq!(unchanged["link_generation"], 0);

    app.complete_checkout(order["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    app.wait_for_order(id, "paid", |o| o["status"] == "paid")
        .await;
    let paid = app.patch_order(id, &json!({"amount_cents": 100})).await;
    assert_eq!(paid.status(), 409, "a paid order keeps its amount");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_has_its_link_switched_off_and_its_pay_url_answers_410() {
    let app = paylink_testkit::spawn_app().await;
    let order = app.minted_order("generic", 1500).await;
    let id = order["id"].as_str().unwrap();
    let cancel = |id: String| {
        app.client
            .post(app.url(&format!("/v1/orders/{id}/cancel")))
            .bearer_auth(paylink_testkit::ADMIN_TOKEN)
            .send()
    };

    let cancelled = cancel(id.to_owned()).await.unwrap();
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    app.wait_for_order(id, "link switched off", |o| {
        o["link_state"] == "deactivated"
    })
    .await;
    let link = app
        .stripe_get(&format!(
            "payment_links/{}",
            order["stripe_payment_link_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(link["active"], false);
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(click.status(), 410);

    assert_eq!(cancel(id.to_owned()).await.unwrap().status(), 409);
    assert_eq!(cancel("ord_nope".to_owned()).await.unwrap().status(), 404);
}
