//! The outbox under faults: a worker killed between an order's change and its event, and what
//! a whole `paylink run` process logs while it registers, rotates and delivers.

use std::time::Duration;

use paylink_core::store::{order, outbound_event};
use paylink_testkit::{AppOptions, Stack, eventually, spawn_app_with};
use sea_orm::{ConnectionTrait as _, EntityTrait as _, TransactionTrait as _};
use serde_json::{Value, json};

use crate::cli::ProcessApi;
use crate::outbound::{received, register, secret_of};
use crate::outbound_receiver::{Answer, Receiver};
use crate::recovery::{Observed, SqliteDeployment, paylink_with};

/// Whether some session of this database waits for a lock while inserting an outbound event.
async fn an_event_insert_waits(db: &sea_orm::DatabaseConnection) -> bool {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE '%insert into \"outbound_events\"%'",
        ))
        .await
        .expect("pg_stat_activity")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count") > 0
}

/// The worker is SIGKILLed after it stored the order's new link in its transaction and while
/// its `order.link_ready` insert waits (the test holds a lock on the outbox). Neither the link
/// nor the event is there afterwards; the next worker makes both, once. At the shipped
/// reconcile, feeder and heartbeat timings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_written_if_and_only_if_its_state_change_committed() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        shipped_timings: true,
        ..AppOptions::on(Stack::PostgresRedis)
    })
    .await;
    let receiver = Receiver::start().await;
    register(&app, &receiver.url(), None).await;
    let product = app.create_product("jersey").await;

    let locker = sea_orm::Database::connect(&app.settings.database.url)
        .await
        .expect("a second connection");
    let lock = locker.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE outbound_events IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut worker = app.spawn_worker_process();
    let created = app.create_order(&product, 4200).await;
    let order_id = created["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), || async {
        an_event_insert_waits(&app.db).await.then_some(())
    })
    .await
    .expect("the worker reaches the event insert of its transaction");
    worker.0.kill().unwrap(); // SIGKILL, between the order's change and its event
    worker.0.wait().unwrap();
    lock.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let after_kill = order::find(&app.db, &order_id).await.unwrap().unwrap();
    assert_eq!(
        after_kill.link_state,
        order::LinkState::Minting,
        "the change rolled back"
    );
    assert_eq!(after_kill.stripe_payment_link_id, None);
    assert_eq!(
        outbound_event::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        0,
        "no event for a change that did not commit"
    );

    let _second = app.spawn_worker_process();
    let minted = app.wait_until_settled(&order_id).await;
    assert_eq!(minted["link_state"], "active", "{minted}");
    let events = outbound_event::for_order(&app.db, &order_id).await.unwrap();
    assert_eq!(events.len(), 1, "one event for the one change");
    assert_eq!(events[0].event_type, "order.link_ready");
    let got = received(&receiver, Duration::from_secs(20), |d| !d.is_empty()).await;
    assert_eq!(got[0].id, events[0].id);
    assert_eq!(
        got[0].json["data"]["stripe_payment_link_id"],
        minted["stripe_payment_link_id"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.deliveries().len(), 1);
}

/// A whole `paylink run` at debug level: registering, listing, rotating and delivering (with a
/// failed try in between) never put either secret in its output, nor the credentials in the
/// endpoint's URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_listings_or_logs() {
    let deployment = SqliteDeployment::start(&[
        ("PAYLINK__LOG__LEVEL", "debug".to_owned()),
        ("PAYLINK__OUTBOUND__RETRY_SCHEDULE_SECS", "1".to_owned()),
        // The test's receiver listens on 127.0.0.1.
        (
            "PAYLINK__OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "true".to_owned(),
        ),
    ])
    .await;
    let mut run = Observed::spawn(paylink_with(&["run"], &deployment.settings));
    run.wait_for_stdout("listening on").await;
    let api = ProcessApi::new(&deployment.base);
    let receiver = Receiver::start().await;
    receiver.script(&[Answer::Status(500)]);

    let with_credentials = receiver
        .url()
        .replace("http://", "http://hook-user:pw_in_url@")
        + "?token=tok_in_url";
    let endpoint = api
        .post("/v1/webhook_endpoints", json!({ "url": with_credentials }))
        .await;
    let first = secret_of(&endpoint);
    let rotated = api
        .post(
            &format!(
                "/v1/webhook_endpoints/{}/rotate_secret",
                endpoint["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let second = secret_of(&rotated);
    for path in [
        "/v1/webhook_endpoints".to_owned(),
        format!("/v1/webhook_endpoints/{}", endpoint["id"].as_str().unwrap()),
    ] {
        let shown: Value = api.get(&path).await.expect("answers");
        let text = shown.to_string();
        assert!(
            !text.contains(&first) && !text.contains(&second),
            "{path}: {text}"
        );
        assert!(!text.contains("secret"), "{path}: {text}");
        assert!(
            !text.contains("pw_in_url") && !text.contains("tok_in_url"),
            "{path}: {text}"
        );
        assert!(text.contains("hook-user:***@"), "{path}: {text}");
    }
    let product = api
        .post(
            "/v1/products",
            json!({"name": "kit", "category": "jersey", "currency": "usd"}),
        )
        .await;
    api.post(
        "/v1/orders",
        json!({
            "external_ref": "logs-1",
            "product_id": product["id"],
            "amount_cents": 3000,
            "payer": {"email": "p@example.com", "name": "Pat"}
        }),
    )
    .await;
    let got = received(&receiver, Duration::from_secs(30), |d| d.len() >= 2).await;
    assert!(got[1].verifies_with(&second) && got[1].verifies_with(&first));

    let output = format!("{}\n{}", run.stdout.lock().unwrap().join("\n"), run.log());
    assert!(
        output.contains("webhook delivery failed; will retry"),
        "the log is at debug:\n{output}"
    );
    for secret in [&first, &second] {
        let key = secret.trim_start_matches("whsec_");
        assert!(!output.contains(key), "a secret in the log:\n{output}");
    }
    assert!(
        output.contains("webhook endpoint registered"),
        "the registration is logged:\n{output}"
    );
    for credential in ["pw_in_url", "tok_in_url"] {
        assert!(
            !output.contains(credential),
            "{credential} in the log:\n{output}"
        );
    }
}
