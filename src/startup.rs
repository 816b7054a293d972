//! Building the intake: connections, state and router, bound to a port (0 picks a free one).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use paylink_core::stripe::StripeApi;
use paylink_core::{JobContext, JobQueue};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::config::{ConfigError, Settings};
use paylink_core::event_intake::EventIntake;

use crate::routes::state::{AppState, WebhookSettings};

/// The connections and engine both the intake and the workers are built from.
pub struct Engine {
    pub db: DatabaseConnection,
    pub queue: JobQueue,
    pub jobs: Arc<JobContext>,
}

impl Engine {
    /// Connects to the database (migrating it when configured to) and the queue.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let queue_url = settings.queue_url()?;
        let db = connect_database(settings).await?;
        match queue_url {
            Some(url) => tracing::info!(
                queue = %paylink_core::store::redact_url(url),
                namespace = %settings.queue.namespace,
                "connecting to the queue"
            ),
            None => tracing::info!("the queue is embedded in the SQLite database"),
        }
        let queue = JobQueue::connect(queue_url, &settings.queue.namespace, &db).await?;
        crate::telemetry::metrics();
        let jobs = Arc::new(JobContext {
            db: db.clone(),
            stripe: StripeApi::new(&settings.stripe_settings()?)?
                .with_rate_limiter(queue.rate_limiter(settings.stripe.rate_limit_per_sec))
                .with_background_limiter(queue.background_rate_limiter(settings.sweep_rate())),
            policy: settings.policy(),
            public_base_url: settings.public_base_url.clone(),
            retry: settings.retry(),
            running: Default::default(),
            key_pause: Default::default(),
            mail: settings
                .mail_settings()?
                .map(|mail| {
                    // A bad sender, server URL or template is a setting to fix: exit 2.
                    paylink_core::mailer::Mailer::new(
                        &mail,
                        queue.mail_rate_limiter(settings.email.rate_per_sec.max(1)),
                    )
                    .map_err(|e| ConfigError(format!("{e:#}")))
                })
                .transpose()?
                .map(Arc::new),
        });
        jobs.stripe.tally().spawn_flusher(db.clone());
        Ok(Self { db, queue, jobs })
    }
}

/// Opens the database and applies pending migrations unless told not to (under the schema
/// lock, so processes started together do not collide).
pub async fn connect_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    tracing::info!(
        database = %describe_database(&settings.database.url),
        "opening the database"
    );
    let db =
        paylink_core::store::connect(&settings.database.url, settings.database.max_connections)
            .await?;
    if settings.database.migrate_on_start {
        paylink_core::store::schema_lock::migrate(&db).await?;
    }
    Ok(db)
}

/// The database URL without its passwords, and for a SQLite file given by a relative path,
/// the file it means from here: `paylink blast` run from another folder opens (and creates)
/// another file, and this says which.
pub fn describe_database(url: &str) -> String {
    let redacted = paylink_core::store::redact_url(url);
    let relative = sqlite_path(url).is_some_and(|path| path.is_relative());
    match sqlite_file(url).filter(|_| relative) {
        Some(file) => format!("{redacted} (the file {})", file.display()),
        None => redacted,
    }
}

/// The file a `sqlite://…` URL names, from the current directory; `None` for other databases
/// and for SQLite in memory.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = sqlite_path(url)?;
    if path.is_absolute() {
        return Some(path.to_path_buf());
    }
    std::env::current_dir().ok().map(|dir| dir.join(path))
}

/// The SQLite file a URL names when that file does not exist (yet): opening it would create a
/// new, empty database.
pub fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    sqlite_file(url).filter(|file| !file.exists())
}

fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(':'))
        .map(std::path::Path::new)
}

/// Records the public base URL this intake runs with, so that commands working on the same
/// database (`paylink blast --out`) hand out the deployment's pay URLs rather than ones built
/// from their own environment (docs/api.md, "Billing blasts"). Not fatal: without it those commands
/// fall back to their own setting, and say so.
async fn record_public_base_url(db: &DatabaseConnection, url: &str) {
    use paylink_core::store::deployment;
    let url = url.trim_end_matches('/');
    if let Ok(Some(before)) = deployment::get(db, deployment::PUBLIC_BASE_URL).await
        && before.value != url
    {
        // Two intakes on one database with different URLs: the last one started wins.
        tracing::warn!(
            before = %before.value,
            now = %url,
            "public_base_url differs from the one recorded by the intake started before; \
             `paylink blast --out` now uses this one"
        );
    }
    if let Err(e) = deployment::record(db, deployment::PUBLIC_BASE_URL, url).await {
        tracing::warn!(
            error = %e,
            "could not record public_base_url in the database; `paylink blast --out` will use its own"
        );
    }
}

/// The largest request body a route takes unless it sets its own limit (`/v1/blasts` and
/// `/webhooks/stripe` do); a larger one is answered 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The intake, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    /// `/metrics` on its own address (`http.metrics_addr`), when set.
    metrics: Option<(TcpListener, axum::Router)>,
    limits: crate::http_server::ConnectionLimits,
}

impl Application {
    pub async fn build(settings: &Settings, engine: &Engine) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.http.addr)
            .await
            .with_context(|| format!("failed to bind the intake to {}", settings.http.addr))?;
        Self::build_on(listener, settings, engine).await
    }

    /// As [`Application::build`], on a listener the caller has bound already (tests bind port 0
    /// first, so their pay URLs can name the port with no window for another socket to take it).
    pub async fn build_on(
        listener: TcpListener,
        settings: &Settings,
        engine: &Engine,
    ) -> anyhow::Result<Self> {
        record_public_base_url(&engine.db, &settings.public_base_url).await;
        let state = AppState {
            db: engine.db.clone(),
            queue: engine.queue.clone(),
            jobs: engine.jobs.clone(),
            admin_token: settings.admin_token()?,
            click_mint_attempts: settings.workers.click_mint_attempts.max(1),
            gauges: Arc::default(),
            stripe_dashboard: settings
                .live_stripe_key()
                .then(|| "https://dashboard.stripe.com".to_owned()),
            secret_overlap: std::time::Duration::from_secs(settings.outbound.secret_overlap_secs),
            return_reads: Arc::default(),
            click_mints: Arc::default(),
            allow_private_networks: settings.outbound.allow_private_networks,
            throttle: Arc::new(crate::routes::throttle::Throttle::new(
                settings.admin.max_failures_per_minute,
            )),
            client_ip: Arc::new(crate::routes::client_ip::ClientIp::new(
                settings.client_ip_header(),
            )),
            sessions: settings.session_limits(),
            webhooks: Arc::new(WebhookSettings {
                secrets: settings.stripe.webhook_secrets.clone(),
                tolerance_secs: settings.stripe.webhook_tolerance_secs,
                intake: EventIntake::start(
                    engine.db.clone(),
                    engine.queue.clone(),
                    settings.workers.window,
                ),
            }),
        };
        let metrics = match settings
            .metrics_addr()
            .filter(|_| !settings.metrics_on_public_addr())
        {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot serve metrics on PAYLINK__HTTP__METRICS_ADDR={addr}")
                })?;
                Some((listener, crate::routes::metrics_router(state.clone())))
            }
            None => None,
        };
        let public_metrics = if settings.metrics_on_public_addr() {
            crate::routes::PublicMetrics::Open
        } else if metrics.is_some() {
            crate::routes::PublicMetrics::No
        } else {
            crate::routes::PublicMetrics::WithToken
        };
        let router = crate::routes::router(state, public_metrics)
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
        Ok(Self {
            listener,
            router,
            metrics,
            limits: settings.connection_limits(),
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Where `/metrics` is served when it has its own address.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.metrics
            .as_ref()
            .map(|(listener, _)| listener.local_addr())
            .transpose()
            .map_err(Into::into)
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        if let Some((listener, router)) = self.metrics {
            let limits = self.limits;
            tokio::spawn(async move {
                let never = std::future::pending();
                if let Err(e) = crate::http_server::serve(listener, router, limits, never).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        crate::http_server::serve(self.listener, self.router, self.limits, shutdown)
            .await
            .context("the intake stopped with an error")
    }
}
