//! The mint pipeline, judged by what the Stripe stand-in received and holds.

use std::time::Duration;

use paylink_core::jobs::mint_link::MintLink;
use serde_json::{Value, json};

use paylink_testkit::{AppOptions, Stack, TestApp, eventually, spawn_app, spawn_app_with};

/// Mints one order of a product in `category` and returns (order, its link at the stand-in).
async fn mint_one(app: &TestApp, category: &str, amount: i64) -> (Value, Value) {
    let product = app.create_product(category).await;
    let order = app.create_order(&product, amount).await;
    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;
    assert_eq!(order["link_state"], "active", "{order}");
    let link = app
        .stripe_get(&format!(
            "payment_links/{}",
            order["stripe_payment_link_id"].as_str().unwrap()
        ))
        .await;
    (order, link)
}

async fn the_link_charges_the_orders_own_amount(stack: Stack) {
    let app = spawn_app_with(AppOptions::on(stack)).await;
    let product = app.create_product("tournament").await;
    let cheap = app.create_order(&product, 1500).await;
    let dear = app.create_order(&product, 12_345).await;

    for (order, amount) in [(cheap, 1500), (dear, 12_345)] {
        let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;
        let link_id = order["stripe_payment_link_id"].as_str().unwrap();
        let items = app
            .stripe_get(&format!("payment_links/{link_id}/line_items"))
            .await;
        let items = items["data"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["price"]["unit_amount"], amount);
        assert_eq!(items[0]["quantity"], 1);
        assert_eq!(items[0]["currency"], "usd");
        assert_eq!(
            order["stripe_payment_link_url"],
            app.stripe_get(&format!("payment_links/{link_id}")).await["url"]
        );
    }
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_link_saves_the_card_and_takes_one_payment() {
    let app = spawn_app().await;
    let (order, link) = mint_one(&app, "monthly", 4500).await;

    assert_eq!(link["metadata"]["order_id"], order["id"]);
    assert_eq!(
        link["payment_intent_data"]["metadata"]["order_id"],
        order["id"]
    );
    assert_eq!(
        link["payment_intent_data"]["setup_future_usage"],
        "off_session"
    );
    assert_eq!(link["restrictions"]["completed_sessions"]["limit"], 1);
    assert!(
        link["inactive_message"]
            .as_str()
            .unwrap()
            .contains("already been made")
    );
    assert_eq!(link["after_completion"]["type"], "redirect");
    let redirect = link["after_completion"]["redirect"]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        redirect,
        format!(
            "{}/thanks?session_id={{CHECKOUT_SESSION_ID}}",
            order["pay_url"].as_str().unwrap()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tournament_link_takes_one_payment_without_saving_the_card() {
    let app = spawn_app().await;
    let (order, link) = mint_one(&app, "tournament", 8000).await;

    assert_eq!(link["metadata"]["order_id"], order["id"]);
    assert_eq!(
        link["payment_intent_data"]["metadata"]["order_id"],
        order["id"]
    );
    assert_eq!(
        link["payment_intent_data"]["setup_future_usage"],
        Value::Null
    );
    assert_eq!(link["restrictions"]["completed_sessions"]["limit"], 1);
    assert!(link["inactive_message"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jersey_tryout_and_generic_links_stay_open_and_do_not_save_the_card() {
    let app = spawn_app().await;
    for category in ["jersey", "tryout", "generic"] {
        let (order, link) = mint_one(&app, category, 3000).await;
        assert_eq!(link["metadata"]["order_id"], order["id"], "{category}");
        assert_eq!(
            link["payment_intent_data"]["metadata"]["order_id"], order["id"],
            "{category}"
        );
        assert_eq!(
            link["payment_intent_data"]["setup_future_usage"],
            Value::Null,
            "{category}"
        );
        assert_eq!(link["restrictions"], Value::Null, "{category}");
        assert_eq!(link["inactive_message"], Value::Null, "{category}");
    }
}

async fn a_stripe_500_then_success_leaves_exactly_one_link(stack: Stack) {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::on(stack)
    })
    .await;
    app.fake_config(json!({"fail_next": 2})).await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;
    let mut app = app;

    app.start_workers();
    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;

    assert_eq!(order["link_state"], "active");
    assert_eq!(order["attempts"], 3, "two 500s, then the link");
    let stats = app.fake_stats().await;
    assert_eq!(stats["injected_failures"], 2);
    assert_eq!(stats["requests"]["POST /v1/payment_links"], 3);
    assert_eq!(
        app.stripe_links_for(order["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
    assert_eq!(stats["payment_links"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_then_success_leaves_exactly_one_link() {
    // The stand-in creates the link but answers after the client gave up: the retry must
    // reuse the key and get the saved link back, not create another.
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_timeout_ms: 300,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"latency_ms": 1000})).await;
    let product = app.create_product("tournament").await;
    let order = app.create_order(&product, 4500).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let mut app = app;

    app.start_workers();
    eventually(Duration::from_secs(10), || async {
        let stats = app.fake_stats().await;
        (stats["requests"]["POST /v1/payment_links"].as_u64() >= Some(1)).then_some(())
    })
    .await
    .expect("the first request reached the stand-in");
    app.fake_config(json!({"latency_ms": 0})).await;
    let order = app.wait_until_settled(&id).await;

    assert_eq!(order["link_state"], "active");
    let stats = app.fake_stats().await;
    assert!(
        stats["idempotent_replays"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(stats["payment_links"]["total"], 1);
    let links = app.stripe_links_for(&id).await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["id"], order["stripe_payment_link_id"]);
}

/// Two copies of one job running at once (a queue that handed the order out twice: a frozen
/// worker's jobs given to another, or work re-enqueued after Redis lost its data): one link,
/// and one Stripe request, because the second copy waits on the first's mint lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_jobs_for_one_order_yield_one_link_and_one_request() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    // Long enough that both copies are running before the first request is answered.
    app.fake_config(json!({"latency_ms": 800})).await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let job = MintLink {
        order_id: id.clone().into(),
        generation: 0,
    };

    let (a, b) = tokio::join!(app.run_job(job.clone()), app.run_job(job),);
    a.unwrap();
    b.unwrap();

    let order = app.get_order(&id).await;
    assert_eq!(order["link_state"], "active");
    assert_eq!(order["attempts"], 1, "{order}");
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links"],
        1,
        "the second copy sent nothing"
    );
    let links = app.stripe_links_for(&id).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["id"], order["stripe_payment_link_id"]);
}

/// A lease left behind by a job whose worker was killed (it never renews): the next job waits
/// for it to run out, then takes the order over and mints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_takes_over_an_order_whose_lease_holder_died() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let runs_out = now + chrono::Duration::seconds(2);
    assert!(
        paylink_core::store::lease::Leased::Order
            .take(&app.db, &id, "killed-worker", now, runs_out)
            .await
            .unwrap()
    );

    app.run_job(MintLink {
        order_id: id.clone().into(),
        generation: 0,
    })
    .await
    .unwrap();

    assert!(
        chrono::Utc::now() >= runs_out,
        "the job waited for the dead holder's lease"
    );
    let order = app.get_order(&id).await;
    assert_eq!(order["link_state"], "active");
    assert_eq!(app.stripe_links_for(&id).await.len(), 1);
    let row = paylink_core::store::order::find(&app.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.mint_lease_owner, None, "released when the job ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_job_changes_nothing() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4500).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let job = MintLink {
        order_id: id.clone().into(),
        generation: 0,
    };

    // The job handler itself, delivered three times: twice at once, then once more later.
    let (a, b) = tokio::join!(app.run_job(job.clone()), app.run_job(job.clone()),);
    a.unwrap();
    b.unwrap();
    let minted = app.get_order(&id).await;
    app.run_job(job).await.unwrap();

    let order = app.get_order(&id).await;
    assert_eq!(order["link_state"], "active");
    assert_eq!(
        order["stripe_payment_link_id"],
        minted["stripe_payment_link_id"]
    );
    assert_eq!(app.stripe_links_for(&id).await.len(), 1);
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_racing_the_queued_job_yields_one_link() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"latency_ms": 1000})).await;
    let product = app.create_product("tournament").await;
    let order = app.create_order(&product, 6000).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let pay_url = order["pay_url"].as_str().unwrap().to_owned();
    let mut app = app;

    app.start_workers();
    let click = app.click_pay(&pay_url).await;

    assert_eq!(click.status(), 303);
    let location = click.headers()["location"].to_str().unwrap().to_owned();
    let order = app.wait_until_settled(&id).await;
    assert_eq!(order["stripe_payment_link_url"], location.as_str());
    eventually(Duration::from_secs(10), || async {
        (app.fake_stats().await["requests"]["POST /v1/payment_links"].as_u64() >= Some(2))
            .then_some(())
    })
    .await
    .expect("the click and the job both asked Stripe");
    assert_eq!(app.stripe_links_for(&id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_400_leaves_the_order_failed_with_stripes_message() {
    let app = spawn_app().await;
    let product = app.create_product("jersey").await;
    // Below Stripe's minimum charge: Stripe refuses, and retrying cannot help.
    let order = app.create_order(&product, 10).await;

    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;

    assert_eq!(order["link_state"], "failed");
    let error = order["last_error"].as_str().unwrap();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(error.contains("must add up to at least 50 usd"), "{error}");
    assert_eq!(order["attempts"], 1, "a refusal is not retried");
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_that_never_end_leave_a_visible_failure() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 3,
        ..AppOptions::default()
    })
    .await;
    app.fake_config(json!({"fail_rate": 1.0})).await;
    let product = app.create_product("generic").await;
    let order = app.create_order(&product, 2000).await;

    let order = app.wait_until_settled(order["id"].as_str().unwrap()).await;

    assert_eq!(order["link_state"], "failed");
    assert!(
        order["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "{order}"
    );
    assert_eq!(order["attempts"], 3);
}

paylink_testkit::on_every_stack!(
    the_link_charges_the_orders_own_amount,
    a_stripe_500_then_success_leaves_exactly_one_link,
);
