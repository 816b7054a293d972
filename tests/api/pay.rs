//! `GET /pay/{token}`: the payer's stable URL.

use sea_orm::{ConnectionTrait, Statement};

use paylink_testkit::{AppOptions, TestApp, spawn_app, spawn_app_with};

async fn set_status(app: &TestApp, id: &str, status: &str) {
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE orders SET status = $1 WHERE id = $2",
            [status.into(), id.into()],
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_order_redirects_to_its_stripe_link() {
    let app = spawn_app().await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;
    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 303);
    let location = click.headers()["location"].to_str().unwrap();
    assert_eq!(location, order["stripe_payment_link_url"].as_str().unwrap());
    let hosted = app.client.get(location).send().await.unwrap();
    assert_eq!(hosted.status(), 200);
    assert!(hosted.text().await.unwrap().contains("45.00 USD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_before_the_job_runs_mints_then_redirects() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 3500).await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 303);
    let stored = app.get_order(order["id"].as_str().unwrap()).await;
    assert_eq!(stored["link_state"], "active");
    assert_eq!(
        click.headers()["location"].to_str().unwrap(),
        stored["stripe_payment_link_url"].as_str().unwrap()
    );
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_is_a_404_page() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;

    let click = app
        .click_pay(&app.url("/pay/0123456789abcdef0123456789abcdef"))
        .await;

    assert_eq!(click.status(), 404);
    assert!(
        click.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        click
            .text()
            .await
            .unwrap()
            .contains("could not find this payment")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_shows_the_paid_page() {
    let app = spawn_app().await;
    let product = app.create_product("tournament").await;
    let order = app.create_order(&product, 4500).await;
    let id = order["id"].as_str().unwrap();
    app.wait_until_settled(id).await;
    set_status(&app, id, "paid").await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 200);
    let page = click.text().await.unwrap();
    assert!(page.contains("This payment has been made"), "{page}");
    assert!(page.contains("tournament fee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_is_410_and_mints_nothing() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("generic").await;
    let order = app.create_order(&product, 4500).await;
    set_status(&app, order["id"].as_str().unwrap(), "cancelled").await;

    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;

    assert_eq!(click.status(), 410);
    assert!(click.text().await.unwrap().contains("cancelled"));
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thank_you_page_answers_for_a_known_order_only() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let response = app
        .client
        .get(app.url("/pay/abc/thanks?session_id=cs_test_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 2000).await;
    let url = format!("{}/thanks", order["pay_url"].as_str().unwrap());
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("we are confirming your payment")
    );
}
