//! Recovery at the shipped defaults (docs/operations.md, "What paylink survives"): processes
//! started in the same instant on a fresh database, a Redis that loses its data in the middle of a
//! blast, a worker SIGKILLed in the middle of it, a `paylink run` killed and started again.
//!
//! No reconcile, heartbeat or feeder setting is shortened here: every app runs with
//! `shipped_timings` (config/default.toml as shipped: reconcile every 30 s, `stale_after` 600 s,
//! feeder every 200 ms, apalis heartbeats as built in), and the spawned processes get the same.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paylink::fake_stripe::{FakeConfig, FakeStripeClient, FakeStripeServer};
use paylink_core::store::order;
use sea_orm::{ConnectionTrait as _, EntityTrait as _};
use serde_json::json;

use crate::blasts::{rows, wait_for_blast};
use crate::cli::{ProcessApi, paylink};
use crate::faults::{PrivateRedis, assert_one_link_per_order, minted};
use paylink_testkit::{
    AppOptions, Db, Running, TestDatabase, clean_redis_namespace, eventually, free_port, redis_url,
};

/// A `paylink` process whose stdout and stderr lines are kept as they come.
pub(crate) struct Observed {
    pub(crate) process: Running,
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Observed {
    pub(crate) fn spawn(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("paylink starts");
        let stdout = collect(child.stdout.take().expect("stdout piped"));
        let stderr = collect(child.stderr.take().expect("stderr piped"));
        Self {
            process: Running(child),
            stdout,
            stderr,
        }
    }

    /// Waits (up to 60 s) for a stdout line containing `marker`; fails with the process's log
    /// if it exits first.
    pub(crate) async fn wait_for_stdout(&mut self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(marker))
            {
                return;
            }
            assert!(
                self.process.alive(),
                "the process exited before printing {marker:?}:\n{}",
                self.log()
            );
            assert!(Instant::now() < deadline, "no {marker:?} within 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A `paylink` command with `settings` in its environment and logs at info.
pub(crate) fn paylink_with(args: &[&str], settings: &[(&str, String)]) -> Command {
    let mut command = paylink();
    command
        .args(args)
        .env("PAYLINK__LOG__LEVEL", "info")
        .env("NO_COLOR", "1")
        .envs(settings.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

/// Settings every process of a deployment shares (the intake's address is added per process).
pub(crate) fn deployment(
    database_url: &str,
    stripe: &str,
    namespace: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("PAYLINK__DATABASE__URL", database_url.to_owned()),
        ("PAYLINK__QUEUE__NAMESPACE", namespace.to_owned()),
        ("PAYLINK__ADMIN__TOKEN", "change-me".to_owned()),
        ("PAYLINK__STRIPE__API_BASE", stripe.to_owned()),
        ("PAYLINK__STRIPE__WEBHOOK_SECRETS", "whsec_dev".to_owned()),
    ]
}

/// A deployment for `paylink run` processes: a fresh SQLite file, a stand-in of its own, a free
/// port for the intake, and the settings (with `extra`) that every process on it shares.
pub(crate) struct SqliteDeployment {
    pub(crate) settings: Vec<(&'static str, String)>,
    pub(crate) fake_url: String,
    pub(crate) base: String,
    _database: TestDatabase,
}

impl SqliteDeployment {
    pub(crate) async fn start(extra: &[(&'static str, String)]) -> Self {
        let database = TestDatabase::create(Db::Sqlite).await;
        let fake = FakeStripeServer::bind(
            "127.0.0.1:0",
            FakeConfig {
                rate_limit_per_sec: 0,
                account_rate_limit_per_sec: 0,
                ..FakeConfig::default()
            },
        )
        .await
        .unwrap();
        let fake_url = fake.base_url();
        tokio::spawn(fake.run());
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut settings = deployment(&database.url, &fake_url, "paylink");
        settings.extend([
            ("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}")),
            ("PAYLINK__PUBLIC_BASE_URL", base.clone()),
        ]);
        settings.extend(extra.iter().cloned());
        Self {
            settings,
            fake_url,
            base,
            _database: database,
        }
    }
}

/// Every process came up, exactly one applied the migrations, and the others found them
/// applied (after waiting for the lock, or after the first had finished).
async fn assert_migrated_once(processes: &mut [Observed], ready: &[&str], database_url: &str) {
    for (process, marker) in processes.iter_mut().zip(ready) {
        process.wait_for_stdout(marker).await;
    }
    for process in processes.iter_mut() {
        assert!(process.process.alive(), "{}", process.log());
    }
    let logs: Vec<String> = processes.iter().map(Observed::log).collect();
    let applied = logs
        .iter()
        .filter(|l| l.contains("applied database migrations"))
        .count();
    let current = logs
        .iter()
        .filter(|l| l.contains("the database schema is up to date"))
        .count();
    assert_eq!(
        (applied, current),
        (1, processes.len() - 1),
        "one process migrates, the rest find it done:\n{}",
        logs.join("\n---\n")
    );
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap() as usize,
        paylink_core::store::schema_lock::migrations_known()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_three_workers_started_at_once_on_a_fresh_postgres_database_all_stay_up() {
    let database = TestDatabase::create(Db::Postgres).await;
    let namespace = format!("paylink_test_{}", uuid::Uuid::new_v4().simple());
    let mut shared = deployment(&database.url, "http://127.0.0.1:9/", &namespace);
    shared.push(("PAYLINK__QUEUE__URL", redis_url()));
    let mut serve = shared.clone();
    serve.push(("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{}", free_port())));

    // Spawned back to back: all four reach the database within milliseconds of each other.
    let mut processes = vec![
        Observed::spawn(paylink_with(&["serve"], &serve)),
        Observed::spawn(paylink_with(&["work"], &shared)),
        Observed::spawn(paylink_with(&["work"], &shared)),
        Observed::spawn(paylink_with(&["work"], &shared)),
    ];

    let ready = [
        "listening on",
        "workers started",
        "workers started",
        "workers started",
    ];
    assert_migrated_once(&mut processes, &ready, &database.url).await;
    drop(processes);
    clean_redis_namespace(namespace);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_run_processes_started_at_once_on_a_fresh_sqlite_file_both_stay_up() {
    let database = TestDatabase::create(Db::Sqlite).await;
    let namespace = format!("paylink_test_{}", uuid::Uuid::new_v4().simple());
    let shared = deployment(&database.url, "http://127.0.0.1:9/", &namespace);
    let with_port = || {
        let mut settings = shared.clone();
        settings.push(("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{}", free_port())));
        settings
    };
    let (first, second) = (with_port(), with_port());

    let mut processes = vec![
        Observed::spawn(paylink_with(&["run"], &first)),
        Observed::spawn(paylink_with(&["run"], &second)),
    ];

    assert_migrated_once(&mut processes, &["listening on"; 2], &database.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_migrate_waits_for_a_process_holding_the_schema_lock_and_says_so() {
    let database = TestDatabase::create(Db::Postgres).await;
    let db = paylink_core::store::connect(&database.url, 2)
        .await
        .unwrap();
    let lock = paylink_core::store::schema_lock::SchemaLock::acquire(&db)
        .await
        .unwrap();
    let mut migrate = Observed::spawn(paylink_with(
        &["migrate"],
        &deployment(&database.url, "http://127.0.0.1:9/", "paylink_unused"),
    ));
    let waiting = eventually(Duration::from_secs(20), || async {
        migrate
            .log()
            .contains("another paylink process is changing the database schema")
            .then_some(())
    })
    .await;
    assert!(
        waiting.is_some(),
        "migrate says it waits:\n{}",
        migrate.log()
    );
    assert!(
        migrate.stdout.lock().unwrap().is_empty(),
        "nothing applied while the lock is held"
    );

    lock.release().await;
    migrate.wait_for_stdout("migrations applied").await;
    let status = migrate.process.0.wait().unwrap();
    assert!(status.success(), "{}", migrate.log());
    assert!(migrate.log().contains("finished its schema changes"));
}

/// What happens to Redis at 40% of the blast.
#[derive(Clone, Copy, Debug)]
enum RedisLoss {
    /// Nothing: the killed worker alone.
    Kept,
    /// `FLUSHALL`.
    Flushed,
    /// The server stopped and started again, with nothing kept on disk.
    Restarted,
}

/// 800 orders at 100 requests/s (a floor of 8 s) through three `paylink work` processes; one
/// SIGKILLed at 20% and never replaced, Redis losing everything at 40%. Every order must end
/// with exactly one link at the stand-in within 1.5 × the floor + 20 s of the blast's start.
async fn blast_survives_a_killed_worker_and_a_lost_redis(loss: RedisLoss) {
    const ORDERS: usize = 800;
    const RATE: u32 = 100;
    let floor = Duration::from_secs_f64(ORDERS as f64 / f64::from(RATE));
    let budget = floor.mul_f64(1.5) + Duration::from_secs(20);
    let mut redis = PrivateRedis::start();
    let app = paylink_testkit::spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: RATE,
        redis_url: Some(redis.url()),
        shipped_timings: true,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;

    let started = Instant::now();
    let mut workers: Vec<Running> = (0..3).map(|_| app.spawn_worker_process()).collect();
    let blast = crate::blasts::post_blast(&app, "recovery", rows(&product, ORDERS, "rec")).await;
    let blast_id = blast["id"].as_str().unwrap();

    let reach = |share: u64| {
        let app = &app;
        async move {
            eventually(budget, || async {
                (minted(app, blast_id).await >= share).then_some(())
            })
            .await
            .unwrap_or_else(|| panic!("no progress to {share} links"));
        }
    };
    reach(ORDERS as u64 / 5).await;
    let mut victim = workers.remove(0);
    victim.0.kill().unwrap(); // SIGKILL: its fetched jobs and in-flight requests are cut off
    victim.0.wait().unwrap();
    let killed_at = started.elapsed();

    reach(ORDERS as u64 * 2 / 5).await;
    let wiped_at = chrono::Utc::now();
    match loss {
        RedisLoss::Kept => {}
        RedisLoss::Flushed => redis.flushall(),
        RedisLoss::Restarted => {
            redis.stop();
            redis.restart();
        }
    }
    let wiped_after = started.elapsed();

    let status = wait_for_blast(&app, blast_id, budget.saturating_sub(started.elapsed())).await;
    let elapsed = started.elapsed();
    assert_eq!(status["counts"]["active"], ORDERS as u64, "{status}");
    assert_one_link_per_order(&app, ORDERS).await;
    let exits: Vec<String> = workers
        .iter_mut()
        .filter_map(|w| {
            w.0.try_wait()
                .ok()
                .flatten()
                .map(|status| status.to_string())
        })
        .collect();
    assert!(
        exits.is_empty(),
        "the survivors run, but some exited ({exits:?}; their stderr is above)"
    );
    let last_link = order::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|o| o.minted_at)
        .max()
        .unwrap();
    let stats = app.fake_stats().await;
    eprintln!(
        "recovery {loss:?}: {ORDERS} orders at {RATE}/s, floor {floor:?}, budget {budget:?}; \
         killed at {killed_at:?}, Redis {loss:?} at {wiped_after:?}; all minted in {elapsed:?}; \
         from then to the last link {} ms; {} create requests",
        (last_link - wiped_at).num_milliseconds(),
        stats["requests"]["POST /v1/payment_links"]
    );
    assert!(
        elapsed <= budget,
        "minted in {elapsed:?}, over the budget of {budget:?}"
    );
}

/// The killed worker's fetched jobs come back when its heartbeat lapses (apalis-redis: 2 s × 3),
/// and its orders' mint leases run out 6 s after its last renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_blast_costs_seconds_at_the_shipped_defaults() {
    blast_survives_a_killed_worker_and_a_lost_redis(RedisLoss::Kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_and_redis_flushed_mid_blast_cost_seconds_at_the_shipped_defaults() {
    blast_survives_a_killed_worker_and_a_lost_redis(RedisLoss::Flushed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_and_redis_restarted_empty_mid_blast_cost_seconds_at_the_shipped_defaults()
{
    blast_survives_a_killed_worker_and_a_lost_redis(RedisLoss::Restarted).await;
}

/// The embedded queue: a `paylink run` SIGKILLed in the middle of a blast and started again on
/// the same file finishes every order, each with one link, within seconds of the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_run_killed_mid_blast_finishes_it_within_seconds_of_its_restart() {
    const ORDERS: usize = 300;
    let deployment =
        SqliteDeployment::start(&[("PAYLINK__STRIPE__RATE_LIMIT_PER_SEC", "100".to_owned())]).await;
    let (settings, fake_url, base) = (&deployment.settings, &deployment.fake_url, &deployment.base);
    let mut run = Observed::spawn(paylink_with(&["run"], settings));
    run.wait_for_stdout("listening on").await;
    let api = ProcessApi::new(base);
    let product = api
        .post(
            "/v1/products",
            json!({"name": "dues", "category": "monthly", "currency": "usd"}),
        )
        .await;
    let blast = api
        .post(
            "/v1/blasts",
            json!({"name": "killed", "orders": rows(product["id"].as_str().unwrap(), ORDERS, "run")}),
        )
        .await;
    let blast_path = format!("/v1/blasts/{}", blast["id"].as_str().unwrap());
    let active = || async { api.get(&blast_path).await?["counts"]["active"].as_u64() };
    eventually(Duration::from_secs(30), || async {
        (active().await? >= ORDERS as u64 * 2 / 5).then_some(())
    })
    .await
    .expect("40% minted before the kill");
    run.process.0.kill().unwrap();
    run.process.0.wait().unwrap();

    let restarted = Instant::now();
    let mut again = Observed::spawn(paylink_with(&["run"], settings));
    again.wait_for_stdout("listening on").await;
    let finished = eventually(Duration::from_secs(60), || async {
        (active().await? == ORDERS as u64).then_some(restarted.elapsed())
    })
    .await
    .unwrap_or_else(|| panic!("not every order minted after the restart:\n{}", again.log()));
    eprintln!("embedded: restart to the last of {ORDERS} links in {finished:?}");
    // 60% of the blast at 100/s is 1.8 s; the killed process's fetched jobs wait out its
    // heartbeat (2 s × 3) before the new process takes them.
    assert!(
        finished < Duration::from_secs(20),
        "the blast finished {finished:?} after the restart"
    );

    let stats = FakeStripeClient::new(fake_url).stats().await.unwrap();
    assert_eq!(
        stats["payment_links"]["total"], ORDERS as u64,
        "300 active orders and 300 links: one each, none doubled ({stats})"
    );
}

/// A worker process frozen (SIGSTOP) in the middle of a blast: the other takes up what it held
/// (its heartbeat lapses, its mint leases run out) and the blast finishes while it is still
/// frozen; woken up afterwards, it makes no second link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_s_orders_are_taken_up_by_another_and_its_wakeup_changes_nothing() {
    const ORDERS: usize = 300;
    let app = paylink_testkit::spawn_app_with(AppOptions {
        workers: false,
        stripe_rate: 100,
        shipped_timings: true,
        fake: FakeConfig {
            rate_limit_per_sec: 0,
            account_rate_limit_per_sec: 0,
            // Requests in flight at the moment of the freeze.
            latency_ms: 200,
            ..FakeConfig::default()
        },
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("tournament").await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut frozen =
        app.spawn_worker_process_with(&[("PAYLINK__WORKERS__METRICS_ADDR", metrics.as_str())]);
    let mut other = app.spawn_worker_process();
    let blast = crate::blasts::post_blast(&app, "frozen", rows(&product, ORDERS, "frz")).await;
    let blast_id = blast["id"].as_str().unwrap();
    eventually(Duration::from_secs(30), || async {
        (minted(&app, blast_id).await >= ORDERS as u64 * 3 / 10).then_some(())
    })
    .await
    .expect("30% minted before the freeze");

    let signal = |name: &str, process: &Running| {
        let status = Command::new("kill")
            .args([name, &process.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP", &frozen);
    let froze = Instant::now();
    let status = wait_for_blast(&app, blast_id, Duration::from_secs(60)).await;
    let taken_up = froze.elapsed();
    assert_eq!(status["counts"]["active"], ORDERS as u64, "{status}");
    eprintln!("frozen worker: the blast finished {taken_up:?} after the freeze");

    signal("-CONT", &frozen);
    // Woken, the worker finishes the jobs it held (each finds its order minted). Count once its
    // job counter stands still.
    let mint_jobs_run = || async {
        let text = reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|l| l.starts_with("paylink_jobs_total{") && l.contains("mint_link"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>(),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = mint_jobs_run().await;
        if now.is_some() && now == last {
            break;
        }
        assert!(Instant::now() < deadline, "the woken worker never settled");
        last = now;
    }
    assert!(frozen.alive() && other.alive());
    assert_one_link_per_order(&app, ORDERS).await;
    assert!(
        taken_up < Duration::from_secs(40),
        "the frozen worker's orders took {taken_up:?} to be taken up"
    );
}
