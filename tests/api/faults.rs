//! The fault suite (one link per order, nothing lost, under faults): real `paylink work` processes
//! SIGKILLed and SIGTERMed mid-blast, a Redis of the test's own flushed and stopped, PostgreSQL
//! cut off behind a proxy, a Stripe stand-in that fails and stalls, and deliveries duplicated
//! and shuffled. Each test ends by counting, at the stand-in, the links every order got.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paylink::fake_stripe::FakeConfig;
use paylink_core::store::order;
use rand::seq::{IndexedRandom as _, SliceRandom as _};
use sea_orm::EntityTrait as _;
use serde_json::{Value, json};

use crate::blasts::{links_per_order, post_blast, rows, wait_for_blast};
use crate::webhooks::completed_event;
use paylink_testkit::{AppOptions, Running, TestApp, eventually, free_port, spawn_app_with};

/// A `redis-server` of the test's own on a free port (nothing kept on disk), killed on drop.
pub(crate) struct PrivateRedis {
    port: u16,
    server: Option<Running>,
}

impl PrivateRedis {
    pub(crate) fn start() -> Self {
        let port = free_port();
        let mut redis = Self { port, server: None };
        redis.restart();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port (empty: it keeps nothing).
    pub(crate) fn restart(&mut self) {
        let server = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (install it: apt-get install redis-server)");
        self.server = Some(Running(server));
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while client
            .get_connection()
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err()
        {
            assert!(Instant::now() < deadline, "private Redis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn stop(&mut self) {
        self.server = None;
    }

    pub(crate) fn flushall(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("FLUSHALL").exec(&mut conn).unwrap();
    }
}

/// A TCP proxy in front of PostgreSQL. `cut()` closes every connection through it and drops
/// new ones at once, which is what paylink sees of a stopped database; `restore()` ends that.
struct PgProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl PgProxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = paylink_testkit::postgres_url();
        let upstream = upstream
            .rsplit('@')
            .next()
            .unwrap()
            .trim_start_matches("postgres://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (cut2, conns2) = (cut.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { port, cut, conns }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Minted links per blast so far (active + deactivated).
pub(crate) async fn minted(app: &TestApp, blast_id: &str) -> u64 {
    let blast: Value = app.get_blast(blast_id).await;
    blast["counts"]["active"].as_u64().unwrap_or(0)
        + blast["counts"]["deactivated"].as_u64().unwrap_or(0)
}

/// Every order of the app has exactly one link at the stand-in, which is the one paylink
/// stored, and the stand-in holds no other link.
pub(crate) async fn assert_one_link_per_order(app: &TestApp, orders: usize) {
    let per_order = links_per_order(app).await;
    let doubled: Vec<_> = per_order.iter().filter(|(_, n)| **n != 1).collect();
    assert!(doubled.is_empty(), "orders with several links: {doubled:?}");
    let stored = order::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), orders);
    assert_eq!(
        per_order.len(),
        orders,
        "every order has its link at Stripe"
    );
    let links: HashMap<String, String> = app
        .stripe_links()
        .await
        .into_iter()
        .map(|l| {
            (
                l["metadata"]["order_id"].as_str().unwrap().to_owned(),
                l["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for o in &stored {
        assert_eq!(
            o.stripe_payment_link_id.as_ref(),
            links.get(&o.id),
            "order {} stores the link Stripe holds for it",
            o.id
        );
    }
    assert_eq!(
        app.fake_stats().await["payment_links"]["total"],
        orders as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_worker_three_times_during_a_2000_order_blast_leaves_one_link_each() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 300,
        window: 500,
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            latency_ms: 20,
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let blast = post_blast(&app, "killed", rows(&product, 2000, "killed")).await;
    let blast_id = blast["id"].as_str().unwrap();
    let mut workers = vec![app.spawn_worker_process(), app.spawn_worker_process()];

    for kill in 0..3 {
        let target = 400 * (kill + 1);
        eventually(Duration::from_secs(60), || async {
            (minted(&app, blast_id).await >= target).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("no progress to {target} links before kill {kill}"));
        let mut victim = workers.remove(kill as usize % workers.len());
        victim.0.kill().unwrap(); // SIGKILL: no shutdown, in-flight requests cut off
        victim.0.wait().unwrap();
        workers.push(app.spawn_worker_process());
    }

    let status = wait_for_blast(&app, blast_id, Duration::from_secs(120)).await;
    assert_eq!(status["counts"]["active"], 2000, "{status}");
    assert_one_link_per_order(&app, 2000).await;
    assert!(workers.iter_mut().all(Running::alive));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushed_in_the_middle_of_a_blast_still_mints_every_order_once() {
    let redis = PrivateRedis::start();
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 300,
        window: 300,
        stale_after_secs: 2,
        redis_url: Some(redis.url()),
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let blast = post_blast(&app, "flushed", rows(&product, 2000, "flushed")).await;
    let blast_id = blast["id"].as_str().unwrap();
    let mut workers = [app.spawn_worker_process(), app.spawn_worker_process()];

    eventually(Duration::from_secs(60), || async {
        (minted(&app, blast_id).await >= 600).then_some(())
    })
    .await
    .expect("600 links before the flush");
    redis.flushall();

    let status = wait_for_blast(&app, blast_id, Duration::from_secs(120)).await;
    assert_eq!(status["counts"]["active"], 2000, "{status}");
    assert_one_link_per_order(&app, 2000).await;
    assert!(workers.iter_mut().all(Running::alive));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_failing_30_percent_and_stalling_others_still_mints_every_order_once() {
    let app = spawn_app_with(AppOptions {
        stripe_timeout_ms: 400,
        max_attempts: 40,
        ..AppOptions::default()
    })
    .await;
    // Stalled requests did happen at Stripe: the retry must get the same link back.
    app.fake_config(json!({"fail_rate": 0.3, "slow_rate": 0.1, "slow_ms": 1200}))
        .await;
    let product = app.create_product("tournament").await;
    let blast = post_blast(&app, "flaky", rows(&product, 500, "flaky")).await;

    let status = wait_for_blast(
        &app,
        blast["id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;

    assert_eq!(status["counts"]["active"], 500, "{status}");
    app.fake_config(json!({"fail_rate": 0.0, "slow_rate": 0.0}))
        .await;
    let stats = app.fake_stats().await;
    assert!(
        stats["injected_failures"].as_u64().unwrap() > 100,
        "{stats}"
    );
    assert!(
        stats["idempotent_replays"].as_u64().unwrap() > 0,
        "stalled requests were retried into their saved result: {stats}"
    );
    assert_one_link_per_order(&app, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_gone_during_webhook_deliveries_answers_503_then_processes_every_one() {
    let proxy = PgProxy::start().await;
    let app = spawn_app_with(AppOptions {
        postgres_port: Some(proxy.port),
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let blast = post_blast(&app, "outage", rows(&product, 40, "outage")).await;
    wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(60)).await;
    let orders = order::Entity::find().all(&app.db).await.unwrap();

    proxy.cut();
    let direct = app
        .send_stripe_webhook(
            &json!({"id": "evt_during_outage", "type": "customer.created", "data": {"object": {}}}),
        )
        .await;
    assert_eq!(direct.status(), 503, "the intake says it cannot store now");
    for o in &orders {
        app.complete_checkout(o.stripe_payment_link_id.as_deref().unwrap(), "paid")
            .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    let all_closed = eventually(Duration::from_secs(90), || async {
        let stored = order::Entity::find().all(&app.db).await.ok()?;
        stored
            .iter()
            .all(|o| {
                o.status == order::Status::Paid && o.link_state == order::LinkState::Deactivated
            })
            .then_some(stored.len())
    })
    .await;
    assert_eq!(
        all_closed,
        Some(40),
        "every delivery processed after the outage"
    );
    let stats = app.fake_stats().await;
    assert!(
        stats["event_delivery_failures"].as_u64().unwrap() > 0,
        "deliveries were refused while the database was gone: {stats}"
    );
    assert_eq!(app.count_rows("stripe_events").await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_deliveries_with_30_percent_duplicates_shuffled_end_in_the_right_states() {
    let app = spawn_app_with(AppOptions::default()).await;
    let categories = ["monthly", "jersey", "tournament", "generic"];
    let mut products = HashMap::new();
    let mut orders_in = Vec::new();
    for category in categories {
        let id = app.create_product(category).await;
        orders_in.extend(rows(&id, 140, category));
        products.insert(id, category);
    }
    let blast = post_blast(&app, "deliveries", orders_in).await;
    wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(60)).await;
    let orders = order::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(orders.len(), 560);

    // 560 orders: 420 paid at once, 140 paid by a delayed method (completed `unpaid`, then
    // `async_payment_succeeded`): 700 distinct events. Then 300 duplicates, all shuffled.
    let mut events = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let order = json!({"id": o.id, "stripe_payment_link_id": o.stripe_payment_link_id});
        if i % 4 == 0 {
            let completed = completed_event(&order, "unpaid");
            let mut succeeded = completed_event(&order, "paid");
            succeeded["type"] = json!("checkout.session.async_payment_succeeded");
            events.push(completed);
            events.push(succeeded);
        } else {
            events.push(completed_event(&order, "paid"));
        }
    }
    assert_eq!(events.len(), 700);
    let mut rng = rand::rng();
    let duplicates: Vec<Value> = (0..300)
        .map(|_| events.choose(&mut rng).unwrap().clone())
        .collect();
    events.extend(duplicates);
    events.shuffle(&mut rng);

    let statuses: Vec<u16> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(
            events
                .iter()
                .map(|e| async { app.send_stripe_webhook(e).await.status().as_u16() }),
        ),
        32,
    ))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "every delivery taken");

    let closing = |o: &order::Model| matches!(products[&o.product_id], "monthly" | "tournament");
    let settled = eventually(Duration::from_secs(60), || async {
        let stored = order::Entity::find().all(&app.db).await.ok()?;
        stored
            .iter()
            .all(|o| {
                o.status == order::Status::Paid
                    && (o.link_state == order::LinkState::Deactivated) == closing(o)
            })
            .then_some(stored)
    })
    .await
    .expect("every order paid, and exactly the closing ones deactivated");
    assert_eq!(app.count_rows("stripe_events").await, 700);
    // Any duplicate deactivation has run once every job has.
    app.drain_jobs().await;
    let closing_count = settled.iter().filter(|o| closing(o)).count() as u64;
    assert_eq!(closing_count, 280);
    assert_eq!(
        app.fake_stats().await["requests"]["POST /v1/payment_links/{id}"],
        closing_count,
        "one deactivate request per closing link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_worker_within_its_grace_and_nothing_is_lost() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 1000,
        stale_after_secs: 2,
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            latency_ms: 4000,
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("generic").await;
    let blast = post_blast(&app, "stopped", rows(&product, 50, "stopped")).await;
    let mut worker =
        app.spawn_worker_process_with(&[("PAYLINK__WORKERS__SHUTDOWN_GRACE_SECS", "1")]);
    // Requests are in flight (each takes 4 s at the stand-in) when the signal comes.
    eventually(Duration::from_secs(20), || async {
        let stats = app.fake_stats().await;
        (stats["requests"]["POST /v1/payment_links"]
            .as_u64()
            .unwrap_or(0)
            > 0)
        .then_some(())
    })
    .await
    .expect("the worker started minting");

    let signalled = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(4),
            "still running 4 s after SIGTERM with a 1 s grace"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));

    app.fake_config(json!({"latency_ms": 0})).await;
    let _replacement = app.spawn_worker_process();
    let status = wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(60)).await;
    assert_eq!(status["counts"]["active"], 50, "{status}");
    assert_one_link_per_order(&app, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_intake_still_takes_orders_and_deliveries_and_they_finish_after() {
    let mut redis = PrivateRedis::start();
    let app = spawn_app_with(AppOptions {
        stale_after_secs: 2,
        redis_url: Some(redis.url()),
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let minted = app.create_order(&product, 4500).await;
    let minted = app.wait_until_settled(minted["id"].as_str().unwrap()).await;

    redis.stop();
    let started = Instant::now();
    let order = app.create_order(&product, 3000).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an order is answered promptly without Redis ({:?})",
        started.elapsed()
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"database": "ok", "queue": "unavailable", "webhook_secret": "ok", "stripe_key": "ok"})
    );
    let delivery = app
        .send_stripe_webhook(&completed_event(&minted, "paid"))
        .await;
    assert_eq!(delivery.status(), 200, "the event is stored");
    let click = app.click_pay(minted["pay_url"].as_str().unwrap()).await;
    assert!(
        click.status() == 303 || click.status() == 200,
        "a click still answers: {}",
        click.status()
    );

    redis.restart();
    let id = order["id"].as_str().unwrap();
    app.wait_for_order(id, "minted after Redis came back", |o| {
        o["link_state"] == "active"
    })
    .await;
    app.wait_for_order(
        minted["id"].as_str().unwrap(),
        "paid and closed after Redis came back",
        |o| o["status"] == "paid" && o["link_state"] == "deactivated",
    )
    .await;
    assert_eq!(app.stripe_links_for(id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_starts_while_redis_is_down_and_the_work_flows_once_it_is_back() {
    let mut redis = PrivateRedis::start();
    redis.stop();
    let app = spawn_app_with(AppOptions {
        redis_url: Some(redis.url()),
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("jersey").await;
    let order = app.create_order(&product, 2500).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    redis.restart();
    let id = order["id"].as_str().unwrap();
    let minted = app
        .wait_for_order(id, "minted once Redis answers", |o| {
            o["link_state"] == "active"
        })
        .await;
    assert_eq!(app.stripe_links_for(id).await.len(), 1, "{minted}");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
