//! paylink itself for a test: the stand-in on port 0, the intake on port 0, the engine and
//! (unless told otherwise) the workers in this process, on a fresh database and Redis namespace;
//! and the typed calls tests make to the intake.

use std::sync::Arc;
use std::time::Duration;

use fake_stripe::{FakeConfig, FakeStripeClient, FakeStripeServer};
use paylink::config::Settings;
use paylink::startup::{Application, Engine};
use paylink_core::{JobContext, WorkerPool};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::database::{TestDatabase, through_port};
use crate::redis::{clean_redis_namespace, redis_url};
use crate::stack::Stack;
use crate::wait::eventually;
use crate::{ADMIN_TOKEN, WEBHOOK_SECRET, WEBHOOK_SECRET_2};

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
    /// The in-process workers, once started; dropping the app stops them.
    workers: Option<WorkerPool>,
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
        workers: None,
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
        let _ = std::fs::remove_file(self.worker_settings_file());
        if self.stack.uses_redis() {
            clean_redis_namespace(self.namespace.clone());
        }
    }
}

impl TestApp {
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
        if self.workers.is_none() {
            self.workers = Some(WorkerPool::start(
                self.engine.jobs.clone(),
                self.engine.queue.clone(),
                self.settings.worker_settings(),
            ));
        }
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
        paylink_core::store::stripe_event::find(&self.db, event_id)
            .await
            .expect("query")
            .and_then(|e| e.outcome)
            .map(|o| sea_orm::ActiveEnum::to_value(&o))
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
