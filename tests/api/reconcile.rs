//! The reconciler: whatever the queue forgot (Redis flushed, the embedded queue emptied, a
//! process killed between a database write and its enqueue) is found in the database and done,
//! once, on every stack.

use paylink_core::store::order;

use crate::webhooks::completed_event;
use paylink_testkit::{AppOptions, Stack, TestApp, spawn_app_with};

/// Mints `order`'s link through its pay URL (the intake mints a click inline; no worker runs).
async fn minted_by_click(app: &TestApp, product: &str) -> serde_json::Value {
    let order = app.create_order(product, 4500).await;
    let click = app.click_pay(order["pay_url"].as_str().unwrap()).await;
    assert_eq!(click.status(), 303);
    app.get_order(order["id"].as_str().unwrap()).await
}

/// Three pieces of lost work at once: an order whose mint job vanished, a stored webhook event
/// whose job vanished, and a paid monthly order whose `deactivate_link` was never enqueued
/// (the process died right after recording the payment).
async fn work_the_queue_lost_is_found_and_done_once(stack: Stack) {
    let mut app = spawn_app_with(AppOptions {
        workers: false,
        stale_after_secs: 1,
        ..AppOptions::on(stack)
    })
    .await;
    let product = app.create_product("monthly").await;
    let unclosed = minted_by_click(&app, &product).await;
    let unclosed_id = unclosed["id"].as_str().unwrap();
    assert!(
        order::mark_paid(&app.db, unclosed_id, &order::Payment::default())
            .await
            .unwrap()
    );
    let paying = minted_by_click(&app, &product).await;
    let event = completed_event(&paying, "paid");
    assert_eq!(app.send_stripe_webhook(&event).await.status(), 200);
    let minting = app.create_order(&product, 2500).await;
    let minting_id = minting["id"].as_str().unwrap();
    app.lose_queued_jobs().await;

    app.start_workers();

    let minted = app.wait_until_settled(minting_id).await;
    assert_eq!(minted["link_state"], "active", "{minted}");
    assert_eq!(app.stripe_links_for(minting_id).await.len(), 1);
    for (id, what) in [
        (
            paying["id"].as_str().unwrap(),
            "paid through its lost event",
        ),
        (unclosed_id, "closed though its deactivation was lost"),
    ] {
        app.wait_for_order(id, what, |o| {
            o["status"] == "paid" && o["link_state"] == "deactivated"
        })
        .await;
        assert_eq!(app.stripe_links_for(id).await.len(), 1);
    }
    assert_eq!(app.fake_stats().await["payment_links"]["active"], 1);
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links/{id}"],
        2,
        "each paid link switched off once"
    );
}

paylink_testkit::on_every_stack!(work_the_queue_lost_is_found_and_done_once);
