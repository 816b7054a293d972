//! `spawn_app()` and the typed helpers tests use to drive paylink and inspect the stand-in.

use std::sync::Arc;
use std::time::Duration;

use paylink::config::Settings;
use paylink::fake_stripe::{FakeConfig, FakeStripeClient, FakeStripeServer};
use paylink::startup::{Application, Engine};
use paylink_workers::JobContext;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::watch;

pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The secret the stand-in signs with; paylink accepts it and `WEBHOOK_SECRET_2` (a roll).
pub const WEBHOOK_SECRET: &str = "whsec_test_primary";
pub const WEBHOOK_SECRET_2: &str = "whsec_test_secondary";

/// Where the tests find PostgreSQL and Redis (override with these variables).
pub fn postgres_url() -> String {
    std::env::var("PAYLINK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn redis_url() -> String {
    std::env::var("PAYLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Postgres,
    Sqlite,
}

/// A fresh, empty database of the given kind, dropped again when the guard goes.
pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
    sqlite_dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    pub async fn create(kind: Db) -> Self {
        let name = format!("paylink_test_{}", uuid::Uuid::new_v4().simple());
        match kind {
            Db::Postgres => {
                let admin = sea_orm::Database::connect(format!("{}/postgres", postgres_url()))
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {} ({e}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", postgres_url()));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("failed to create the test database");
                Self {
                    url: format!("{}/{name}", postgres_url()),
                    pg_name: Some(name),
                    sqlite_dir: None,
                }
            }
            Db::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("failed to create a temp dir");
                Self {
                    url: format!("sqlite://{}/paylink.db", dir.display()),
                    pg_name: None,
                    sqlite_dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            let url = format!("{}/postgres", postgres_url());
            // Drop runs inside the test's runtime: clean up from a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let admin = sea_orm::Database::connect(url)
                        .await
                        .map_err(std::io::Error::other)?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<(), std::io::Error>(())
                })
            })
            .join();
        }
    }
}

/// A local port nothing listens on right now (for a server the test starts next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// `url` with the port of its host replaced (`postgres://u@127.0.0.1:5432/db` → `…:port/db`).
pub fn through_port(url: &str, port: u16) -> String {
    let host_start = url
        .rfind('@')
        .map_or_else(|| url.find("://").map_or(0, |i| i + 3), |i| i + 1);
    let rest = &url[host_start..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = rest[..host_end].split(':').next().unwrap_or("127.0.0.1");
    format!("{}{host}:{port}{}", &url[..host_start], &rest[host_end..])
}

/// Removes every Redis key under `namespace:` (a test's queue keys). Runs twice, a moment
/// apart, because a stopping worker may still acknowledge its last job.
pub fn clean_redis_namespace(namespace: String) {
    let _ = std::thread::spawn(move || {
        let client = redis::Client::open(redis_url())?;
        let mut conn = client.get_connection()?;
        for pass in 0..2 {
            if pass > 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{namespace}:*"))
                .query(&mut conn)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).exec(&mut conn)?;
            }
        }
        Ok::<(), redis::RedisError>(())
    })
    .join();
}

/// The database and queue a test runs paylink on. The core flows run on all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// PostgreSQL and Redis: the deployment for a fleet.
    PostgresRedis,
    /// SQLite and Redis.
    SqliteRedis,
    /// SQLite with the embedded queue in the same file: `paylink run` with no services.
    Embedded,
}

impl Stack {
    pub fn db(self) -> Db {
        match self {
            Self::PostgresRedis => Db::Postgres,
            Self::SqliteRedis | Self::Embedded => Db::Sqlite,
        }
    }

    pub fn uses_redis(self) -> bool {
        self != Self::Embedded
    }
}

/// Runs each named `async fn(Stack)` test on every stack, as `<name>::<stack>`.
#[macro_export]
macro_rules! on_every_stack {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() { super::$name($crate::helpers::Stack::PostgresRedis).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_redis() { super::$name($crate::helpers::Stack::SqliteRedis).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() { super::$name($crate::helpers::Stack::Embedded).await }
        })*
    };
}

/// Options for `spawn_app_with`.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub stack: Stack,
    /// Start the workers in-process (off: jobs wait in the queue until `start_workers`).
    pub workers: bool,
    pub fake: FakeConfig,
    /// Stripe request timeout, to provoke client-side timeouts.
    pub stripe_timeout_ms: u64,
    pub max_attempts: u32,
    /// paylink's own Stripe rate limit (all workers together).
    pub stripe_rate: u32,
    /// Most mint jobs due in the queue at once.
    pub window: u64,
    /// Work enqueued this long ago and unfinished counts as lost (`reconcile.stale_after_secs`).
    pub stale_after_secs: u64,
    /// A Redis of the test's own (one it may stop or flush) instead of the shared one.
    pub redis_url: Option<String>,
    /// Reach PostgreSQL through this local port (a proxy the test can cut) instead of directly.
    pub postgres_port: Option<u16>,
    /// Keep paylink's shipped timings (`config/default.toml`: feeder and reconcile intervals,
    /// `stale_after`, Stripe timeout and backoff) instead of the test profile's shorter ones,
    /// so a recovery test shows what operators get. Overrides `stripe_timeout_ms` and
    /// `stale_after_secs`.
    pub shipped_timings: bool,
    /// `reconcile.stripe_sweep_secs` / `link_sweep_secs` (shipped: 300 / 3600), for the tests
    /// of the sweeps themselves.
    pub stripe_sweep_secs: Option<u64>,
    pub link_sweep_secs: Option<u64>,
}

impl AppOptions {
    /// The defaults, on `stack`.
    pub fn on(stack: Stack) -> Self {
        Self {
            stack,
            ..Self::default()
        }
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            stack: Stack::PostgresRedis,
            workers: true,
            fake: FakeConfig {
                rate_limit_per_sec: 0,
                account_rate_limit_per_sec: 0,
                ..FakeConfig::default()
            },
            stripe_timeout_ms: 2000,
            max_attempts: 8,
            stripe_rate: 1000,
            window: 1000,
            stale_after_secs: 600,
            redis_url: None,
            postgres_port: None,
            shipped_timings: false,
            stripe_sweep_secs: None,
            link_sweep_secs: None,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub fake_url: String,
    /// The stand-in's own client (its controls, and its objects read back).
    pub stripe: FakeStripeClient,
    pub db: DatabaseConnection,
    pub jobs: Arc<JobContext>,
    pub settings: Settings,
    pub engine: Engine,
    pub client: reqwest::Client,
    pub namespace: String,
    pub stack: Stack,
    stop: watch::Sender<bool>,
    workers_started: bool,
    // Dropped last: the database outlives the connections above.
    _database: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    paylink::telemetry::init(
        "text",
        &std::env::var("PAYLINK_TEST_LOG").unwrap_or_else(|_| "off".into()),
    );
    let database = TestDatabase::create(options.stack.db()).await;
    let fake = FakeStripeServer::bind("127.0.0.1:0", options.fake.clone())
        .await
        .expect("stand-in binds");
    let fake_url = fake.base_url();
    tokio::spawn(fake.run());
    let namespace = format!("paylink_test_{}", uuid::Uuid::new_v4().simple());
    // Bind the intake's port first, so pay URLs can name it and nothing can take it meanwhile.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the intake binds");
    let port = listener.local_addr().expect("bound").port();
    // The development profile adds nothing to config/default.toml.
    let profile = if options.shipped_timings {
        "development"
    } else {
        "test"
    };
    let figment = Settings::figment_for(profile)
        .merge(("http.addr", format!("127.0.0.1:{port}")))
        .merge(("public_base_url", format!("http://127.0.0.1:{port}")))
        .merge((
            "database.url",
            match options.postgres_port {
                Some(port) => through_port(&database.url, port),
                None => database.url.clone(),
            },
        ))
        .merge(("database.max_connections", 5))
        .merge((
            "queue.url",
            if options.stack.uses_redis() {
                options.redis_url.clone().unwrap_or_else(redis_url)
            } else {
                String::new()
            },
        ))
        .merge(("queue.namespace", namespace.clone()))
        .merge(("stripe.api_base", fake_url.clone()))
        .merge(("admin.token", ADMIN_TOKEN))
        .merge((
            "stripe.webhook_secrets",
            format!("{WEBHOOK_SECRET},{WEBHOOK_SECRET_2}"),
        ))
        .merge(("workers.max_attempts", options.max_attempts))
        .merge(("stripe.rate_limit_per_sec", options.stripe_rate))
        .merge(("workers.window", options.window));
    let figment = if options.shipped_timings {
        figment
    } else {
        figment
            .merge(("stripe.request_timeout_ms", options.stripe_timeout_ms))
            .merge(("workers.feed_interval_ms", 100))
            .merge(("reconcile.stale_after_secs", options.stale_after_secs))
            .merge(("reconcile.interval_secs", 1))
    };
    let figment = match options.stripe_sweep_secs {
        Some(secs) => figment.merge(("reconcile.stripe_sweep_secs", secs)),
        None => figment,
    };
    let figment = match options.link_sweep_secs {
        Some(secs) => figment.merge(("reconcile.link_sweep_secs", secs)),
        None => figment,
    };
    let settings = Settings::from_figment(figment).expect("test settings are valid");
    let engine = Engine::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("paylink could not start ({e:#})"));
    if options.stack.uses_redis() && options.redis_url.is_none() {
        engine.queue.ping().await.unwrap_or_else(|e| panic!("the shared Redis at {} does not answer ({e:#}); start it with: redis-server --daemonize yes --save '' --appendonly no", redis_url()));
    }
    let app = Application::build_on(listener, &settings, &engine)
        .await
        .expect("intake builds");
    let address = format!("http://{}", app.local_addr().expect("bound"));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(app.run_until_stopped(wait(stopped)));
    let mut test_app = TestApp {
        address,
        stripe: FakeStripeClient::new(&fake_url),
        fake_url,
        db: engine.db.clone(),
        jobs: engine.jobs.clone(),
        settings,
        engine,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        namespace,
        stack: options.stack,
        stop,
        workers_started: false,
        _database: database,
    };
    test_app
        .fake_config(json!({
            "webhook_url": test_app.url("/webhooks/stripe"),
            "webhook_secret": WEBHOOK_SECRET,
        }))
        .await;
    if options.workers {
        test_app.start_workers();
    }
    test_app
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if self.stack.uses_redis() {
            clean_redis_namespace(self.namespace.clone());
        }
    }
}

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl TestApp {
    /// Starts a `paylink work` process sharing this app's database, queue and stand-in.
    pub fn spawn_worker_process(&self) -> Running {
        self.spawn_worker_process_with(&[])
    }

    /// As [`Self::spawn_worker_process`], with extra environment variables.
    pub fn spawn_worker_process_with(&self, env: &[(&str, &str)]) -> Running {
        let s = &self.settings;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_paylink"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAYLINK")) {
            command.env_remove(key);
        }
        let settings = [
            ("PAYLINK_ENV", "test".to_owned()),
            ("PAYLINK__DATABASE__URL", s.database.url.clone()),
            ("PAYLINK__DATABASE__MIGRATE_ON_START", "false".to_owned()),
            (
                "PAYLINK__QUEUE__URL",
                s.queue.url.clone().unwrap_or_default(),
            ),
            ("PAYLINK__QUEUE__NAMESPACE", self.namespace.clone()),
            ("PAYLINK__STRIPE__API_BASE", self.fake_url.clone()),
            (
                "PAYLINK__STRIPE__RATE_LIMIT_PER_SEC",
                s.stripe.rate_limit_per_sec.to_string(),
            ),
            (
                "PAYLINK__STRIPE__REQUEST_TIMEOUT_MS",
                s.stripe.request_timeout_ms.to_string(),
            ),
            ("PAYLINK__PUBLIC_BASE_URL", s.public_base_url.clone()),
            ("PAYLINK__WORKERS__WINDOW", s.workers.window.to_string()),
            (
                "PAYLINK__WORKERS__FEED_INTERVAL_MS",
                s.workers.feed_interval_ms.to_string(),
            ),
            (
                "PAYLINK__WORKERS__MAX_ATTEMPTS",
                s.workers.max_attempts.to_string(),
            ),
            (
                "PAYLINK__WORKERS__BASE_BACKOFF_MS",
                s.workers.base_backoff_ms.to_string(),
            ),
            (
                "PAYLINK__WORKERS__MAX_BACKOFF_MS",
                s.workers.max_backoff_ms.to_string(),
            ),
            (
                "PAYLINK__RECONCILE__STALE_AFTER_SECS",
                s.reconcile.stale_after_secs.to_string(),
            ),
            (
                "PAYLINK__RECONCILE__INTERVAL_SECS",
                s.reconcile.interval_secs.to_string(),
            ),
            (
                "PAYLINK__LOG__LEVEL",
                std::env::var("PAYLINK_TEST_LOG").unwrap_or_else(|_| "error".into()),
            ),
        ];
        command
            .arg("work")
            .envs(settings)
            .stdout(std::process::Stdio::null());
        command.envs(env.iter().copied());
        Running(command.spawn().expect("paylink work starts"))
    }

    /// Throws away every job waiting in the queue (as a flushed Redis would), leaving the
    /// database as it is.
    pub async fn lose_queued_jobs(&self) {
        if self.stack.uses_redis() {
            clean_redis_namespace(self.namespace.clone());
        } else {
            self.db
                .execute_unprepared("DELETE FROM Jobs")
                .await
                .expect("embedded queue emptied");
        }
    }

    /// Starts the in-process workers (once).
    pub fn start_workers(&mut self) {
        if self.workers_started {
            return;
        }
        self.workers_started = true;
        paylink_workers::spawn_workers(
            self.engine.jobs.clone(),
            self.engine.queue.clone(),
            self.settings.worker_settings(),
            wait(self.stop.subscribe()),
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `PATCH /v1/orders/{id}` with `body`, as the admin.
    pub async fn patch_order(&self, id: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(&format!("/v1/orders/{id}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// An admin page's HTML, fetched with the admin token.
    pub async fn admin_page(&self, path: &str) -> String {
        self.get_json(path).await.text().await.expect("html")
    }

    pub async fn get_json(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a product and returns its id.
    pub async fn create_product(&self, category: &str) -> String {
        let response = self
            .post_json("/v1/products", &json!({"name": format!("{category} fee"), "category": category, "currency": "usd"}))
            .await;
        assert_eq!(response.status(), 201, "product created");
        response.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.post_json("/v1/orders", body).await
    }

    /// Creates an order for `product_id` at `amount_cents` and returns it.
    pub async fn create_order(&self, product_id: &str, amount_cents: i64) -> Value {
        let response = self.post_order(&order_body(product_id, amount_cents)).await;
        assert_eq!(response.status(), 201, "order created");
        response.json().await.expect("json")
    }

    pub async fn get_order(&self, id: &str) -> Value {
        let response = self.get_json(&format!("/v1/orders/{id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    /// Waits (up to 20 s) until the order's link state is no longer `minting`, and returns it.
    pub async fn wait_until_settled(&self, id: &str) -> Value {
        eventually(Duration::from_secs(20), || async {
            let order = self.get_order(id).await;
            (order["link_state"] != "minting").then_some(order)
        })
        .await
        .unwrap_or_else(|| panic!("order {id} still minting after 20 s"))
    }

    pub async fn click_pay(&self, pay_url: &str) -> reqwest::Response {
        self.client.get(pay_url).send().await.expect("click sent")
    }

    pub async fn count_orders(&self) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM orders",
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// Posts a webhook delivery with the given body and `Stripe-Signature` header.
    pub async fn send_webhook_raw(&self, body: &str, signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send().await.expect("delivery sent")
    }

    /// Posts `event` signed as Stripe signs it, with the secret the stand-in uses.
    pub async fn send_stripe_webhook(&self, event: &Value) -> reqwest::Response {
        let body = event.to_string();
        let signature = sign(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
        self.send_webhook_raw(&body, Some(&signature)).await
    }

    /// A payer completes checkout on `link_id` at the stand-in; returns the session id.
    pub async fn complete_checkout(&self, link_id: &str, payment_status: &str) -> String {
        self.stripe
            .complete(link_id, payment_status)
            .await
            .expect("the stand-in completed checkout")
    }

    pub async fn settle(&self, session_id: &str, outcome: &str) {
        self.stripe
            .settle(session_id, outcome)
            .await
            .expect("the stand-in settled the session");
    }

    /// Waits (up to 20 s) until `check` holds for the order, and returns it.
    pub async fn wait_for_order(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let found = eventually(Duration::from_secs(20), || async {
            let order = self.get_order(id).await;
            check(&order).then_some(order)
        })
        .await;
        match found {
            Some(order) => order,
            None => panic!(
                "order {id}: {what} did not happen within 20 s; now {}",
                self.get_order(id).await
            ),
        }
    }

    /// Mints an order of a `category` product at `amount` and waits for its link.
    pub async fn minted_order(&self, category: &str, amount: i64) -> Value {
        let product = self.create_product(category).await;
        let order = self.create_order(&product, amount).await;
        let order = self
            .wait_until_settled(order["id"].as_str().expect("id"))
            .await;
        assert_eq!(order["link_state"], "active", "{order}");
        order
    }

    /// Rows in a table (`orders`, `stripe_events`).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// The stored event's outcome, once processed (None while unprocessed or absent).
    pub async fn event_outcome(&self, event_id: &str) -> Option<String> {
        paylink_workers::store::stripe_event::find(&self.db, event_id)
            .await
            .expect("query")
            .and_then(|e| e.outcome)
    }

    // --- the stand-in, seen from outside, over HTTP as Stripe would be ---

    pub async fn fake_config(&self, config: Value) {
        self.stripe
            .config(&config)
            .await
            .unwrap_or_else(|e| panic!("stand-in accepted config {config}: {e:#}"));
    }

    pub async fn fake_stats(&self) -> Value {
        self.stripe.stats().await.expect("stats")
    }

    pub async fn stripe_get(&self, path: &str) -> Value {
        self.stripe.get(path).await.expect("the stand-in answers")
    }

    /// Every Payment Link the stand-in holds (paging through `GET /v1/payment_links`).
    pub async fn stripe_links(&self) -> Vec<Value> {
        self.stripe.links().await.expect("the stand-in lists links")
    }

    /// The Payment Links at the stand-in whose `metadata.order_id` names this order.
    pub async fn stripe_links_for(&self, order_id: &str) -> Vec<Value> {
        self.stripe
            .links_for(order_id)
            .await
            .expect("the stand-in lists links")
    }
}

pub fn order_body(product_id: &str, amount_cents: i64) -> Value {
    json!({
        "external_ref": format!("ref-{}", uuid::Uuid::new_v4().simple()),
        "product_id": product_id,
        "amount_cents": amount_cents,
        "payer": {"email": "parent@example.com", "name": "Pat Parent"}
    })
}

/// Stripe's signature header, computed as Stripe documents it (HMAC-SHA256 over `t.body`).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    paylink::webhook_signature::sign(
        &secrecy::SecretString::from(secret),
        timestamp,
        body.as_bytes(),
    )
}

/// Polls `check` every 50 ms until it returns Some, or `within` passes (then None).
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
