//! Bounded outbound work (docs/webhooks.md, "Delivery, retries and replay"): at most 16 endpoints;
//! an event's deliveries written outside its change's transaction, once each; a hanging endpoint
//! holding only its own share of the delivery slots; a replay answered at once and done in
//! the background, at most 10,000 events a request.

use std::time::{Duration, Instant};

use paylink_core::store::{outbound_delivery, outbound_event, outbound_replay};
use paylink_testkit::{AppOptions, spawn_app, spawn_app_with};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, TransactionTrait as _,
};
use serde_json::{Value, json};

use crate::outbound::{received, register};
use crate::outbound_receiver::{Answer, Receiver};

/// Where nothing listens: registration takes it (the tests allow private networks), a try is
/// refused at once.
const DEAD_URL: &str = "http://127.0.0.1:9/hook";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn at_most_sixteen_endpoints_even_when_registered_at_once() {
    let app = spawn_app().await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/webhook_endpoints",
                &json!({ "url": format!("{DEAD_URL}/{i}") }),
            )
            .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [[201; 16].as_slice(), &[409; 4]].concat());
    for answer in answers {
        if answer.status() == 409 {
            let text = answer.text().await.unwrap();
            assert!(
                text.contains("at most 16 webhook endpoints") && text.contains("delete"),
                "{text}"
            );
        }
    }
    let listed = app.webhook_endpoints().await;
    let all = listed["data"].as_array().unwrap();
    assert_eq!(all.len(), 16);

    let deleted = app
        .client
        .delete(app.url(&format!("/v1/webhook_endpoints/{}", id(&all[0]))))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    register(&app, DEAD_URL, None).await;
}

/// The outbox's promise holds (the `order.cancelled` event commits with the cancel), while its
/// delivery rows are written afterwards: with the delivery table locked, the cancel still
/// answers, and the delivery follows once the lock is gone. (When each endpoint's delivery was
/// written in the cancel's own transaction, the cancel waited on the lock.)
#[tokio::test]
async fn a_cancel_writes_its_event_and_not_its_deliveries_in_its_transaction() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    register(&app, &receiver.url(), None).await;
    let order = app.minted_order("jersey", 2500).await;
    let order_id = id(&order);
    received(&receiver, Duration::from_secs(30), |d| !d.is_empty()).await;

    let locker = sea_orm::Database::connect(&app.settings.database.url)
        .await
        .unwrap();
    let lock = locker.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE outbound_deliveries IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let cancel = tokio::time::timeout(
        Duration::from_secs(10),
        app.post_json(&format!("/v1/orders/{order_id}/cancel"), &json!({})),
    )
    .await
    .expect("the cancel answers while the delivery table is locked");
    assert_eq!(cancel.status(), 200);
    let events = outbound_event::for_order(&app.db, &order_id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["order.link_ready", "order.cancelled"],
        "the event committed with the cancel"
    );
    lock.rollback().await.unwrap();

    let got = received(&receiver, Duration::from_secs(20), |d| {
        d.iter().any(|d| d.event_type() == "order.cancelled")
    })
    .await;
    assert_eq!(got.len(), 2);
    let cancelled = outbound_event::for_order(&app.db, &order_id).await.unwrap();
    assert!(cancelled.iter().all(|e| e.fanned_out));
}

/// Events written straight to the outbox, fanned out by four passes at once (as four worker
/// processes would): each endpoint that was registered before an event gets exactly one
/// delivery of it, and every event is marked done.
#[tokio::test]
async fn fan_out_by_several_processes_at_once_writes_each_delivery_once() {
    const EVENTS: i64 = 1_200;
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    for i in 0..3 {
        register(&app, &format!("{DEAD_URL}/{i}"), None).await;
    }
    register(&app, &format!("{DEAD_URL}/paid"), Some(&["order.paid"])).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO outbound_events (id, event_type, order_id, body, created_at, fanned_out) \
             SELECT 'msg_fan_' || g, 'order.link_ready', 'ord_fan_' || (g % 50), '{{}}', now(), false \
             FROM generate_series(1, {EVENTS}) g"
        ))
        .await
        .unwrap();
    // Registered after the events were written: it gets none of them.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = register(&app, &format!("{DEAD_URL}/late"), None).await;

    let passes = (0..4).map(|_| {
        let db = app.db.clone();
        async move {
            let mut fanned = 0;
            loop {
                match paylink_core::outbound::fan_out::fan_out(&db).await.unwrap() {
                    0 => return fanned,
                    n => fanned += n,
                }
            }
        }
    });
    let fanned: usize = futures::future::join_all(passes).await.into_iter().sum();
    assert!(fanned >= EVENTS as usize, "{fanned}");

    let deliveries = outbound_delivery::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(
        deliveries,
        3 * EVENTS as u64,
        "one per event and taking endpoint"
    );
    let to_late = outbound_delivery::Entity::find()
        .filter(outbound_delivery::Column::EndpointId.eq(id(&late)))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(to_late, 0);
    let waiting = outbound_event::Entity::find()
        .filter(outbound_event::Column::FannedOut.eq(false))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

/// Four endpoints that accept the connection and never answer, and a healthy one: the healthy
/// one gets all 40 events while every try to the hanging ones is still waiting for its 15 s
/// timeout (the shipped one). Before each endpoint had a reserve of the process's 64 slots, the
/// hanging ones took all 64 (16 each) and the healthy one waited for their timeouts.
#[tokio::test]
async fn four_hanging_endpoints_leave_a_healthy_one_its_share() {
    const ORDERS: usize = 40;
    let app = spawn_app().await;
    let mut hanging = Vec::new();
    for _ in 0..4 {
        let receiver = Receiver::start().await;
        receiver.always(Answer::Hang);
        let endpoint = register(&app, &receiver.url(), Some(&["order.link_ready"])).await;
        hanging.push((receiver, id(&endpoint)));
    }
    let healthy = Receiver::start().await;
    register(&app, &healthy.url(), Some(&["order.link_ready"])).await;
    let product = app.create_product("jersey").await;
    let started = Instant::now();
    crate::blasts::post_blast(
        &app,
        "hang4",
        crate::blasts::rows(&product, ORDERS, "hang4"),
    )
    .await;

    received(&healthy, Duration::from_secs(60), |d| d.len() >= ORDERS).await;
    eprintln!(
        "beside four hanging endpoints, a healthy one had its {ORDERS} events after {:?}",
        started.elapsed()
    );
    let hanging_ids: Vec<String> = hanging.iter().map(|(_, id)| id.clone()).collect();
    let tried = outbound_delivery::Entity::find()
        .filter(outbound_delivery::Column::EndpointId.is_in(hanging_ids))
        .filter(outbound_delivery::Column::Attempts.gt(0))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(
        tried, 0,
        "the healthy endpoint had all {ORDERS} before any hanging try timed out"
    );
    let held: usize = hanging.iter().map(|(r, _)| r.deliveries().len()).sum();
    assert!(
        (1..=60).contains(&held),
        "the hanging ones hold at most 64 - 4 slots: {held}"
    );
}

/// 100,000 events in the outbox. A replay of them answers at once, having made nothing due yet,
/// and covers the first 10,000 (saying where the rest starts); twelve more at once are answered
/// too, and other calls keep answering while the background work (the dispatcher's batches,
/// run here by the test as the dispatcher would) makes the first replay's events due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_100k_events_answers_at_once_and_is_done_in_the_background() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let endpoint = register(&app, DEAD_URL, Some(&["order.paid"])).await;
    let endpoint_id = id(&endpoint);
    let started = chrono::Utc::now() - chrono::Duration::hours(2);
    app.db
        .execute_unprepared(
            "INSERT INTO outbound_events (id, event_type, order_id, body, created_at, fanned_out) \
             SELECT 'msg_rp_' || g, 'order.paid', 'ord_rp_' || (g % 1000), '{}', \
             now() - interval '1 hour' + g * interval '1 millisecond', true \
             FROM generate_series(1, 100000) g",
        )
        .await
        .unwrap();
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 2500).await;
    let replay_path = format!("/v1/webhook_endpoints/{endpoint_id}/replay");

    let asked = Instant::now();
    let response = app
        .post_json(&replay_path, &json!({ "since": started.to_rfc3339() }))
        .await;
    let took = asked.elapsed();
    assert_eq!(response.status(), 202);
    let replay: Value = response.json().await.unwrap();
    eprintln!("a replay of 100,000 events answered in {took:?}: {replay}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(replay["replayed"], 10_000, "{replay}");
    assert!(replay["next_since"].is_string(), "the rest: {replay}");
    assert_eq!(replay["until"], replay["next_since"]);
    assert_eq!(
        outbound_delivery::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0,
        "nothing made due inside the request"
    );
    let replay_id = replay["replay_id"].as_str().unwrap().to_owned();

    let more = (0..12).map(|_| {
        let (app, path) = (&app, &replay_path);
        async move {
            app.post_json(path, &json!({ "since": started.to_rfc3339() }))
                .await
                .status()
        }
    });
    for status in futures::future::join_all(more).await {
        assert_eq!(status, 202);
    }

    // The dispatcher's background work, while other calls come in.
    let db = app.db.clone();
    let first = replay_id.clone();
    let background = tokio::spawn(async move {
        loop {
            paylink_core::outbound::replays::step(&db).await.unwrap();
            let replay = outbound_replay::find(&db, &first).await.unwrap().unwrap();
            if replay.finished_at.is_some() {
                return replay;
            }
        }
    });
    let mut answered = 0;
    while !background.is_finished() {
        let get = tokio::time::timeout(
            Duration::from_secs(5),
            app.get_json(&format!("/v1/orders/{}", id(&order))),
        )
        .await
        .expect("GET /v1/orders/{id} answers while the replay runs");
        assert_eq!(get.status(), 200);
        answered += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = background.await.unwrap();
    assert!(answered >= 1);
    assert_eq!((done.total, done.done), (10_000, 10_000));
    let due = outbound_delivery::Entity::find()
        .filter(outbound_delivery::Column::EndpointId.eq(&endpoint_id))
        .filter(outbound_delivery::Column::State.eq(outbound_delivery::State::Pending))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(due, 10_000, "the replay's events are due, no more");
    let shown: Value = app
        .get_json(&format!(
            "/v1/webhook_endpoints/{endpoint_id}/replays/{replay_id}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["state"], "finished", "{shown}");
    assert_eq!(shown["done"], 10_000);

    // The next page starts where the first ended.
    let next: Value = app
        .post_json(&replay_path, &json!({ "since": replay["next_since"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["since"], replay["next_since"]);
    assert_eq!(next["replayed"], 10_000);
    let bad = app
        .post_json(
            &replay_path,
            &json!({ "since": started.to_rfc3339(), "until": started.to_rfc3339() }),
        )
        .await;
    assert_eq!(bad.status(), 422);
}

/// A replay with `until` covers only its range, and an unknown replay id is a 404.
#[tokio::test]
async fn a_replay_until_a_time_covers_only_its_range() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let endpoint = register(&app, DEAD_URL, None).await;
    let endpoint_id = id(&endpoint);
    app.db
        .execute_unprepared(
            "INSERT INTO outbound_events (id, event_type, order_id, body, created_at, fanned_out) \
             SELECT 'msg_until_' || g, 'order.paid', 'ord_until', '{}', \
             TIMESTAMPTZ '2026-01-01T00:00:00Z' + g * interval '1 minute', true \
             FROM generate_series(1, 100) g",
        )
        .await
        .unwrap();
    let answer: Value = app
        .post_json(
            &format!("/v1/webhook_endpoints/{endpoint_id}/replay"),
            &json!({ "since": "2026-01-01T00:10:00Z", "until": "2026-01-01T00:20:00Z" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["replayed"], 10, "minutes 10 to 19: {answer}");
    assert_eq!(answer["next_since"], Value::Null);
    while paylink_core::outbound::replays::step(&app.db)
        .await
        .unwrap()
    {}
    let seqs: Vec<i32> = outbound_delivery::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.event_seq)
        .collect();
    assert_eq!(seqs.len(), 10);
    let missing = app
        .get_json(&format!(
            "/v1/webhook_endpoints/{endpoint_id}/replays/rp_nope"
        ))
        .await;
    assert_eq!(missing.status(), 404);
}
