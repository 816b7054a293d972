//! The embedded default under contention: one `paylink run` process (intake, workers and the
//! embedded queue in one SQLite file) minting a blast while payments arrive and an operator
//! makes a hundred changes at once. SQLite has one writer at a time; every write transaction
//! must wait its turn (`store::begin_write`, `BEGIN IMMEDIATE` with the busy timeout) instead of
//! being refused with "database is locked", which the operator would meet as a 500.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use paylink_testkit::{AppOptions, Stack, TestApp, order_body, spawn_app_with};
use serde_json::{Value, json};

use crate::blasts::{post_blast, wait_for_blast};

/// Orders made one by one before the storm: the targets of its cancels, amount changes and
/// payments.
const TARGETS: usize = 60;
/// Orders in the blast that mints while the storm runs.
const BLAST: usize = 300;

async fn minted_targets(app: &TestApp, product: &str) -> Vec<Value> {
    let mut orders = Vec::new();
    for _ in 0..TARGETS {
        orders.push(app.create_order(product, 2500).await);
    }
    let mut minted = Vec::new();
    for order in orders {
        minted.push(app.wait_until_settled(order["id"].as_str().unwrap()).await);
    }
    minted
}

/// One write and the status it was answered with, as `"PATCH /v1/orders/… → 500: …"` when it
/// failed.
async fn outcome(request: reqwest::RequestBuilder, what: String) -> Result<(), String> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status();
    // Dashboard forms answer 303 to where the operator goes next.
    if status.is_success() || status.as_u16() == 303 {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("{what} → {status}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_answers_every_write_while_a_blast_mints_and_payments_arrive() {
    // paylink's own Stripe limit at its shipped 20/s, so the blast is still minting throughout.
    let app = spawn_app_with(AppOptions {
        stripe_rate: 20,
        ..AppOptions::on(Stack::Embedded)
    })
    .await;
    let product = app.create_product("monthly").await;
    let targets = minted_targets(&app, &product).await;
    let rows: Vec<Value> = (0..BLAST).map(|_| order_body(&product, 4000)).collect();
    let blast = post_blast(&app, "October dues", rows).await;
    let csrf = app.admin_csrf().await;

    let mut writes = Vec::new();
    for (i, order) in targets.iter().enumerate() {
        let id = order["id"].as_str().unwrap();
        let (request, what) = match i % 3 {
            0 => (
                app.client
                    .post(app.url(&format!("/v1/orders/{id}/cancel")))
                    .bearer_auth(paylink_testkit::ADMIN_TOKEN)
                    .json(&json!({})),
                format!("POST /v1/orders/{id}/cancel"),
            ),
            1 => (
                app.client
                    .patch(app.url(&format!("/v1/orders/{id}")))
                    .bearer_auth(paylink_testkit::ADMIN_TOKEN)
                    .json(&json!({"amount_cents": 2600 + i})),
                format!("PATCH /v1/orders/{id}"),
            ),
            _ => (
                app.client
                    .post(app.url(&format!("/admin/orders/{id}/cancel")))
                    .bearer_auth(paylink_testkit::ADMIN_TOKEN)
                    .form(&[("csrf", csrf.as_str())]),
                format!("POST /admin/orders/{id}/cancel"),
            ),
        };
        writes.push(outcome(request, what));
    }
    for _ in 0..20 {
        writes.push(outcome(
            app.client
                .post(app.url("/v1/orders"))
                .bearer_auth(paylink_testkit::ADMIN_TOKEN)
                .json(&order_body(&product, 1800)),
            "POST /v1/orders".to_owned(),
        ));
    }
    for _ in 0..20 {
        writes.push(outcome(
            app.client
                .post(app.url("/admin/failures/retry"))
                .bearer_auth(paylink_testkit::ADMIN_TOKEN)
                .form(&[("csrf", csrf.as_str())]),
            "POST /admin/failures/retry".to_owned(),
        ));
    }
    assert_eq!(writes.len(), 100);
    // Thirty payers of the blast pay while the writes run: their webhooks settle orders in the
    // same file.
    let targets: HashSet<&str> = targets.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let payments = async {
        let mut paid = HashSet::new();
        for _ in 0..600 {
            for link in app.stripe_links().await {
                let order = link["metadata"]["order_id"].as_str().unwrap_or_default();
                if paid.len() < 30 && !targets.contains(order) && paid.insert(order.to_owned()) {
                    app.complete_checkout(link["id"].as_str().unwrap(), "paid")
                        .await;
                }
            }
            if paid.len() >= 30 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        paid.len()
    };
    let (answers, paid) = tokio::join!(join_all(writes), payments);
    let failed: Vec<String> = answers.into_iter().filter_map(Result::err).collect();
    assert!(
        failed.is_empty(),
        "{} of 100 writes failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(paid, 30, "payments arrived during the writes");
    let done = wait_for_blast(
        &app,
        blast["id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["counts"]["failed"], 0, "{done}");
}
