//! paylink itself for a test: the stand-in on port 0, the intake on port 0, the engine and
//! (unless told otherwise) the workers in this process, on a fresh database and Redis namespace.

use std::sync::Arc;

use fake_stripe::{FakeConfig, FakeStripeClient, FakeStripeServer};
use paylink::config::Settings;
use paylink::startup::{Application, Engine};
use paylink_core::{JobContext, WorkerPool};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use tokio::sync::watch;

use crate::database::{TestDatabase, through_port};
use crate::redis::{clean_redis_namespace, redis_url};
use crate::stack::Stack;
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
    /// Further settings, merged last (`("http.max_connections", json!(5))`).
    pub settings: Vec<(&'static str, serde_json::Value)>,
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
            settings: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served when `http.metrics_addr` is set.
    pub metrics_address: Option<String>,
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
        .merge(("workers.window", options.window))
        // The tests' receivers listen on 127.0.0.1; a test of the refusal sets it back to false.
        .merge(("outbound.allow_private_networks", true));
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
    let figment = options
        .settings
        .iter()
        .fold(figment, |figment, (key, value)| {
            figment.merge((*key, value))
        });
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
    let metrics_address = app
        .metrics_addr()
        .expect("bound")
        .map(|addr| format!("http://{addr}"));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(app.run_until_stopped(wait(stopped)));
    let mut test_app = TestApp {
        address,
        metrics_address,
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

    /// Runs one job here and now, as a worker would (the queue is not involved).
    pub async fn run_job<J: paylink_core::jobs::BackgroundJob>(
        &self,
        job: J,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        job.run(&self.jobs, &self.engine.queue).await
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
}
