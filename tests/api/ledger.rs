//! Stripe is the ledger: payments and links Stripe recorded that no webhook told paylink of are
//! found by the sweep of Stripe's events, the payer's return page and the sweep of links;
//! payments that do not match their order are flagged and listed.

use std::time::Duration;

use paylink_core::store::operator::{self, FailureFilter};
use paylink_core::store::payment::{self, LearnedVia};
use serde_json::{Value, json};

use paylink_testkit::{ADMIN_TOKEN, AppOptions, Stack, TestApp, eventually, spawn_app_with};

/// Deliveries go nowhere: a port nothing listens on (an endpoint down, a wrong URL in Stripe).
async fn break_webhooks(app: &TestApp) {
    app.fake_config(json!({"webhook_url": "http://127.0.0.1:9/webhooks/stripe"}))
        .await;
}

fn link_id(order: &Value) -> String {
    order["stripe_payment_link_id"]
        .as_str()
        .expect("a minted link")
        .to_owned()
}

/// The payer's return from Stripe, as the `after_completion` redirect sends it.
async fn return_page(app: &TestApp, order: &Value, session_id: &str) -> (u16, String) {
    let url = format!(
        "{}/thanks?session_id={session_id}",
        order["pay_url"].as_str().expect("pay url")
    );
    let response = app.client.get(url).send().await.expect("return page");
    let status = response.status().as_u16();
    (status, response.text().await.expect("html"))
}

async fn learned_via(app: &TestApp, session_id: &str) -> Option<LearnedVia> {
    payment::find(&app.db, session_id)
        .await
        .expect("query")
        .map(|p| p.learned_via)
}

/// Waits for the workers' first look at both sweeps (with no order yet, they ask Stripe
/// nothing), so that a test's injected Stripe failures meet only the requests it makes.
async fn first_sweeps_done(app: &TestApp) {
    let done = eventually(Duration::from_secs(10), || async {
        (app.count_rows("stripe_cursors").await == 2).then_some(())
    })
    .await;
    assert!(done.is_some(), "the sweeps ran at start");
}

/// A payer opens checkout on the link now (and pays later, as `complete_open` does).
async fn open_session(app: &TestApp, link_id: &str) -> String {
    app.stripe
        .open_session(link_id)
        .await
        .expect("the stand-in opens a session")
}

async fn complete_open(app: &TestApp, session_id: &str) {
    app.stripe
        .complete_open(session_id)
        .await
        .expect("the stand-in completes the open session");
}

async fn sweep_finds_a_payment_no_webhook_delivered(stack: Stack) {
    let app = spawn_app_with(AppOptions {
        stripe_sweep_secs: Some(1),
        ..AppOptions::on(stack)
    })
    .await;
    break_webhooks(&app).await;
    let order = app.minted_order("monthly", 4500).await;
    let id = order["id"].as_str().unwrap();
    let session = app.complete_checkout(&link_id(&order), "paid").await;

    let paid = app
        .wait_for_order(id, "paid by the event sweep", |o| o["status"] == "paid")
        .await;
    assert_eq!(paid["paid_amount_cents"], 4500, "{paid}");
    assert_eq!(paid["paid_currency"], "usd");
    assert!(
        paid["stripe_customer_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("cus_")),
        "the card is saved to a Customer: {paid}"
    );
    assert_eq!(paid["payment_issue"], Value::Null);
    assert_eq!(
        learned_via(&app, &session).await,
        Some(LearnedVia::EventSweep)
    );
    let closed = eventually(Duration::from_secs(20), || async {
        let link = app
            .stripe_get(&format!("payment_links/{}", link_id(&order)))
            .await;
        (link["active"] == false).then_some(())
    })
    .await;
    assert!(closed.is_some(), "the paid monthly link is switched off");
    assert_eq!(app.fake_stats().await["events_delivered"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_sweep_records_a_payment_no_webhook_delivered_on_postgres_and_redis() {
    sweep_finds_a_payment_no_webhook_delivered(Stack::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_sweep_records_a_payment_no_webhook_delivered_on_the_embedded_default() {
    sweep_finds_a_payment_no_webhook_delivered(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_return_page_settles_the_order_before_any_webhook() {
    let app = spawn_app_with(AppOptions::default()).await;
    break_webhooks(&app).await;
    let order = app.minted_order("tournament", 3000).await;
    let id = order["id"].as_str().unwrap();
    let session = app.complete_checkout(&link_id(&order), "paid").await;
    assert_eq!(app.get_order(id).await["status"], "pending");

    let (status, page) = return_page(&app, &order, &session).await;
    assert_eq!(status, 200);
    assert!(page.contains("your payment is recorded"), "{page}");
    let paid = app.get_order(id).await;
    assert_eq!(
        paid["status"], "paid",
        "settled by the return itself: {paid}"
    );
    assert_eq!(paid["paid_amount_cents"], 3000);
    assert_eq!(
        learned_via(&app, &session).await,
        Some(LearnedVia::ReturnPage)
    );

    // Back again (a reload): the same payment, recorded once.
    let (_, page) = return_page(&app, &order, &session).await;
    assert!(page.contains("your payment is recorded"), "{page}");
    assert_eq!(app.count_rows("payments").await, 1);
    let closed = eventually(Duration::from_secs(20), || async {
        let link = app
            .stripe_get(&format!("payment_links/{}", link_id(&order)))
            .await;
        (link["active"] == false).then_some(())
    })
    .await;
    assert!(closed.is_some(), "the paid tournament link is switched off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_or_made_up_session_on_the_return_page_settles_nothing() {
    let app = spawn_app_with(AppOptions::default()).await;
    break_webhooks(&app).await;
    let mine = app.minted_order("jersey", 2000).await;
    let product = mine["product_id"].as_str().unwrap();
    let other = app.create_order(product, 2500).await;
    let other = app.wait_until_settled(other["id"].as_str().unwrap()).await;
    let foreign = app.complete_checkout(&link_id(&other), "paid").await;

    for session in [
        foreign.as_str(),
        "cs_test_made_up_by_someone",
        "not-a-session",
    ] {
        let (status, page) = return_page(&app, &mine, session).await;
        assert_eq!(status, 200);
        assert!(
            page.contains("confirming your payment"),
            "{session}: {page}"
        );
    }
    assert_eq!(
        app.get_order(mine["id"].as_str().unwrap()).await["status"],
        "pending"
    );
    assert_eq!(
        app.get_order(other["id"].as_str().unwrap()).await["status"],
        "pending",
        "another order's payment is not settled through this order's page"
    );
    assert_eq!(app.count_rows("payments").await, 0);
}

/// Waits (up to `within`) until each order has exactly one active link at the stand-in, the
/// one it stores; panics with what the stand-in holds otherwise.
async fn assert_one_active_link_each(app: &TestApp, ids: &[String], within: Duration) {
    let settled = eventually(within, || async {
        for id in ids {
            let order = app.get_order(id).await;
            let active: Vec<Value> = app
                .stripe_links_for(id)
                .await
                .into_iter()
                .filter(|l| l["active"] == true)
                .collect();
            if active.len() != 1 || active[0]["id"] != order["stripe_payment_link_id"] {
                return None;
            }
        }
        Some(())
    })
    .await;
    if settled.is_none() {
        for id in ids {
            let links: Vec<(Value, Value)> = app
                .stripe_links_for(id)
                .await
                .into_iter()
                .map(|l| (l["id"].clone(), l["active"].clone()))
                .collect();
            eprintln!(
                "{id}: stores {} ; at Stripe {links:?}",
                app.get_order(id).await["stripe_payment_link_id"]
            );
        }
        panic!("not every order ended with exactly its stored link active");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_500_after_stripe_made_the_link_ends_with_one_active_link() {
    // At the shipped reconcile, sweep, backoff and timeout settings: what operators get.
    let app = spawn_app_with(AppOptions {
        shipped_timings: true,
        ..AppOptions::default()
    })
    .await;
    first_sweeps_done(&app).await;
    let product = app.create_product("monthly").await;
    // Each order's first create runs at Stripe and is answered 500 ("outcome unknown"):
    // paylink rightly retries under a new key, and the first link is left behind.
    app.fake_config(json!({"fail_after_next": 8})).await;
    let mut ids = Vec::new();
    for amount in 0..8 {
        let order = app.create_order(&product, 1000 + amount).await;
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_until_settled(id).await;
    }
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links"],
        16
    );
    // The link sweep runs soon after an unknown outcome and switches the orphans off.
    assert_one_active_link_each(&app, &ids, Duration::from_secs(60)).await;
    assert_eq!(app.fake_stats().await["payment_links"]["active"], 8);
}

/// An order whose every create timed out after the stand-in made its link (it answers after
/// the client gave up; the retry gets the replay, as late), left failed with that one link
/// at Stripe; then the stand-in forgets the key.
async fn failed_after_timeouts(app: &TestApp, key_ttl_secs: u64) -> String {
    first_sweeps_done(app).await;
    app.fake_config(
        json!({"slow_rate": 1.0, "slow_ms": 3000, "idempotency_ttl_secs": key_ttl_secs}),
    )
    .await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 4200).await;
    let id = order["id"].as_str().unwrap().to_owned();
    app.wait_for_order(&id, "failed after timeouts", |o| {
        o["link_state"] == "failed"
    })
    .await;
    app.fake_config(json!({"slow_rate": 0.0})).await;
    // The stand-in's answers come 3 s late; wait them out, and the key's 4 s with them.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    id
}

async fn retry(app: &TestApp, id: &str) {
    let filter = FailureFilter {
        order_id: Some(id.to_owned()),
        blast_id: None,
        error_contains: None,
    };
    assert_eq!(operator::retry_failed(&app.db, &filter).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_whose_key_expired_at_stripe_does_not_leave_two_active_links() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 2,
        ..AppOptions::default()
    })
    .await;
    let id = failed_after_timeouts(&app, 4).await;
    assert_eq!(
        app.stripe_links_for(&id).await.len(),
        1,
        "the timed-out create made a link"
    );
    retry(&app, &id).await;
    let order = app.wait_until_settled(&id).await;
    assert_eq!(order["link_state"], "active", "{order}");
    assert_one_active_link_each(&app, &[id], Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_older_than_23_hours_is_not_reused_before_the_link_is_looked_up() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 2,
        ..AppOptions::default()
    })
    .await;
    let id = failed_after_timeouts(&app, 4).await;
    let made = app.stripe_links_for(&id).await;
    assert_eq!(made.len(), 1);
    // As if the operator retried the next day.
    let day_ago = chrono::Utc::now() - chrono::Duration::hours(24);
    use paylink_core::store::order;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    order::Entity::update_many()
        .col_expr(order::Column::KeyFirstUsedAt, Expr::value(day_ago))
        .filter(order::Column::Id.eq(id.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    let creates = app.fake_stats().await["requests"]["POST /v1/payment_links"].clone();
    retry(&app, &id).await;
    let order = app.wait_until_settled(&id).await;
    assert_eq!(order["link_state"], "active", "{order}");
    assert_eq!(
        order["stripe_payment_link_id"], made[0]["id"],
        "the link Stripe made is adopted"
    );
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links"],
        creates,
        "no second create"
    );
    assert_eq!(app.stripe_links_for(&id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_amount_payment_after_cancel_and_a_second_payment_are_flagged_and_listed() {
    let app = spawn_app_with(AppOptions::default()).await;

    // A payer opens checkout at 50.00; the amount becomes 90.00; the old session is paid.
    let changed = app.minted_order("monthly", 5000).await;
    let changed_id = changed["id"].as_str().unwrap();
    let old_session = open_session(&app, &link_id(&changed)).await;
    let response = app
        .patch_order(changed_id, &json!({"amount_cents": 9000}))
        .await;
    assert_eq!(response.status(), 200);
    app.wait_for_order(changed_id, "re-minted", |o| {
        o["link_state"] == "active" && o["link_generation"] == 1
    })
    .await;
    complete_open(&app, &old_session).await;
    let flagged = app
        .wait_for_order(changed_id, "flagged", |o| !o["payment_issue"].is_null())
        .await;
    assert_eq!(flagged["payment_issue"], "amount_mismatch", "{flagged}");
    assert_eq!(flagged["paid_amount_cents"], 5000);
    assert_eq!(flagged["amount_cents"], 9000);

    // A payer opens checkout; the order is cancelled; the payer pays.
    let cancelled = app.minted_order("tournament", 3000).await;
    let cancelled_id = cancelled["id"].as_str().unwrap();
    let session = open_session(&app, &link_id(&cancelled)).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/orders/{cancelled_id}/cancel")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    complete_open(&app, &session).await;
    let flagged = app
        .wait_for_order(cancelled_id, "flagged", |o| !o["payment_issue"].is_null())
        .await;
    assert_eq!(flagged["payment_issue"], "paid_after_cancel", "{flagged}");
    assert_eq!(flagged["status"], "cancelled");

    // A jersey link stays open after its payment; a second payment arrives through it.
    let twice = app.minted_order("jersey", 2500).await;
    let twice_id = twice["id"].as_str().unwrap();
    app.complete_checkout(&link_id(&twice), "paid").await;
    app.wait_for_order(twice_id, "paid", |o| o["status"] == "paid")
        .await;
    app.complete_checkout(&link_id(&twice), "paid").await;
    let flagged = app
        .wait_for_order(twice_id, "flagged", |o| !o["payment_issue"].is_null())
        .await;
    assert_eq!(flagged["payment_issue"], "paid_twice", "{flagged}");

    let page = app.admin_page("/admin/failures").await;
    assert!(page.contains("Payments needing attention (3)"), "{page}");
    for (id, issue) in [
        (changed_id, "amount_mismatch"),
        (cancelled_id, "paid_after_cancel"),
        (twice_id, "paid_twice"),
    ] {
        assert!(
            page.contains(id) && page.contains(issue),
            "{id} {issue} listed"
        );
    }
    // The overview puts them under "Needs attention", linked to that list.
    let overview = app.admin_page("/admin").await;
    let card_at = overview
        .find("data-label=\"attention\"")
        .expect("an attention card");
    let card = &overview[card_at..card_at + overview[card_at..].find("</div>").unwrap()];
    assert!(
        card.contains("href=\"/admin/failures#payment-issues\"")
            && card.contains("and 3 payments to check"),
        "{card}"
    );
    let metrics = app.metrics_text().await;
    for issue in ["amount_mismatch", "paid_after_cancel", "paid_twice"] {
        let series = format!("paylink_payment_issues_total{{issue=\"{issue}\"}}");
        assert!(metrics.contains(&series), "{series} in /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_link_saves_the_card_to_a_customer_and_a_jersey_link_does_not() {
    let app = spawn_app_with(AppOptions::default()).await;
    let monthly = app.minted_order("monthly", 4000).await;
    let jersey = app.minted_order("jersey", 4000).await;
    let monthly_link = app
        .stripe_get(&format!("payment_links/{}", link_id(&monthly)))
        .await;
    let jersey_link = app
        .stripe_get(&format!("payment_links/{}", link_id(&jersey)))
        .await;
    assert_eq!(monthly_link["customer_creation"], "always");
    assert_eq!(
        monthly_link["payment_intent_data"]["setup_future_usage"],
        "off_session"
    );
    assert_eq!(jersey_link["customer_creation"], "if_required");

    for (order, customer) in [(&monthly, true), (&jersey, false)] {
        let id = order["id"].as_str().unwrap();
        app.complete_checkout(&link_id(order), "paid").await;
        let paid = app
            .wait_for_order(id, "paid", |o| o["status"] == "paid")
            .await;
        assert_eq!(
            paid["stripe_customer_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("cus_")),
            customer,
            "{paid}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_paylink_cannot_read_is_kept_as_unreadable_and_shown() {
    let app = spawn_app_with(AppOptions::default()).await;
    let event = json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": "not a session"}
    });
    assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    let id = event["id"].as_str().unwrap();
    let outcome = eventually(Duration::from_secs(20), || async {
        app.event_outcome(id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("unreadable"));
    let page = app.admin_page("/admin/failures").await;
    assert!(page.contains(id) && page.contains("unreadable"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_amount_s_link_whose_switch_off_was_lost_is_switched_off_by_the_reconciler() {
    let mut app = spawn_app_with(AppOptions {
        workers: false,
        stale_after_secs: 1,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 3000).await;
    let id = order["id"].as_str().unwrap().to_owned();
    // The payer's click mints the link inline (no worker runs yet).
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(click.status(), 303);
    let old_link = link_id(&app.get_order(&id).await);
    let response = app.patch_order(&id, &json!({"amount_cents": 3500})).await;
    assert_eq!(response.status(), 200);
    // The queue loses the old link's deactivate_link (and the new mint) before any worker ran.
    app.lose_queued_jobs().await;
    app.start_workers();

    let order = app
        .wait_for_order(&id, "re-minted", |o| o["link_state"] == "active")
        .await;
    assert_ne!(link_id(&order), old_link);
    let closed = eventually(Duration::from_secs(20), || async {
        let link = app.stripe_get(&format!("payment_links/{old_link}")).await;
        (link["active"] == false).then_some(())
    })
    .await;
    assert!(closed.is_some(), "the old amount's link is switched off");
    assert_one_active_link_each(&app, &[id], Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_through_an_old_generation_s_link_without_metadata_finds_its_order() {
    let app = spawn_app_with(AppOptions::default()).await;
    let order = app.minted_order("jersey", 2000).await;
    let id = order["id"].as_str().unwrap();
    let old_link = link_id(&order);
    let response = app.patch_order(id, &json!({"amount_cents": 2600})).await;
    assert_eq!(response.status(), 200);
    app.wait_for_order(id, "re-minted", |o| {
        o["link_generation"] == 1 && o["link_state"] == "active"
    })
    .await;
    let event = json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {
            "id": format!("cs_test_{}", uuid::Uuid::new_v4().simple()),
            "object": "checkout.session",
            "payment_link": old_link,
            "payment_status": "paid",
            "status": "complete",
            "amount_total": 2000,
            "currency": "usd",
            "metadata": null
        }}
    });
    assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    let paid = app
        .wait_for_order(id, "paid through its old link", |o| o["status"] == "paid")
        .await;
    assert_eq!(paid["payment_issue"], "amount_mismatch", "{paid}");
    assert_eq!(paid["paid_amount_cents"], 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_switched_off_is_never_stored_by_a_retry_that_replays_its_key() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 2,
        ..AppOptions::default()
    })
    .await;
    // Stripe keeps the key: a retry under it would be answered with the link it made.
    let id = failed_after_timeouts(&app, 86_400).await;
    let made = app.stripe_links_for(&id).await;
    assert_eq!(made.len(), 1);
    let orphan = made[0]["id"].as_str().unwrap().to_owned();
    let off = eventually(Duration::from_secs(60), || async {
        let link = app.stripe_get(&format!("payment_links/{orphan}")).await;
        (link["active"] == false).then_some(())
    })
    .await;
    assert!(
        off.is_some(),
        "the link sweep switches off the failed order's orphan"
    );
    retry(&app, &id).await;
    let order = app.wait_until_settled(&id).await;
    assert_eq!(order["link_state"], "active", "{order}");
    assert_ne!(
        order["stripe_payment_link_id"],
        orphan.as_str(),
        "a live link, not the dead one"
    );
    assert_one_active_link_each(&app, &[id], Duration::from_secs(5)).await;
}
