//! The doctor's checks of the deployment itself: the database (reachable, migrations current),
//! the queue, the public base URL the intake runs with, a webhook secret to verify Stripe, where
//! client addresses come from (a proxy nobody told paylink about) and where `/metrics` is
//! served. Every check only reads: the database is left exactly as found.

use paylink_core::store::{self, deployment, schema_lock};
use sea_orm::DatabaseConnection;

use super::Report;
use crate::config::Settings;
use crate::startup::{describe_database, missing_sqlite_file, sqlite_file};

/// Runs the checks; returns the database when it answered.
pub async fn check(settings: &Settings, report: &mut Report) -> Option<DatabaseConnection> {
    let db = database(settings, report).await;
    match &db {
        Some(db) => migrations(db, report).await,
        None => report.skip("migrations", "needs the database"),
    }
    queue(settings, report).await;
    match &db {
        Some(db) => base_url(settings, db, report).await,
        None => report.skip("public base URL", "needs the database"),
    }
    if settings.stripe.webhook_secrets.is_empty() {
        report.fail(
            "webhook secrets",
            "none is set: the intake answers 503 to every Stripe event, and payments are learned only by the sweep and the return page.",
            "set PAYLINK__STRIPE__WEBHOOK_SECRETS to the endpoint's signing secret (whsec_…).",
        );
    } else {
        report.ok(
            "webhook secrets",
            format!(
                "{} configured (PAYLINK__STRIPE__WEBHOOK_SECRETS)",
                settings.stripe.webhook_secrets.len()
            ),
        );
    }
    client_address(settings, report);
    metrics(settings, report);
    db
}

/// Whether the throttle and the connection cap can tell clients apart.
fn client_address(settings: &Settings, report: &mut Report) {
    if let Some(why) = crate::routes::client_ip::unconfigured_proxy(settings) {
        report.warn("client address", why);
        return;
    }
    match settings.client_ip_header() {
        Some(header) => report.ok(
            "client address",
            format!(
                "from the {header} header the proxy sets (PAYLINK__HTTP__CLIENT_IP_HEADER); the \
                 proxy must limit connections per client"
            ),
        ),
        None => report.ok(
            "client address",
            "the connection's peer (the public URL is http: no TLS proxy in front)",
        ),
    }
}

/// Who can read the intake's `/metrics`.
fn metrics(settings: &Settings, report: &mut Report) {
    match settings.metrics_addr() {
        None => report.ok(
            "metrics",
            "on the public port, with the admin token only (set PAYLINK__HTTP__METRICS_ADDR \
             for a Prometheus without it)",
        ),
        Some(_) if settings.metrics_on_public_addr() => report.warn(
            "metrics",
            "served to anyone on the public port (PAYLINK__HTTP__METRICS_ADDR is HTTP__ADDR): \
             outsiders can read the deployment's volume and failures",
        ),
        Some(addr) => report.ok("metrics", format!("on {addr}, without a token")),
    }
}

async fn database(settings: &Settings, report: &mut Report) -> Option<DatabaseConnection> {
    let url = &settings.database.url;
    let shown = describe_database(url);
    if let Some(file) = missing_sqlite_file(url) {
        report.fail(
            "database",
            format!("no SQLite file at {} ({shown}).", file.display()),
            "run paylink from the folder the intake runs in, or set PAYLINK__DATABASE__URL to the intake's database.",
        );
        return None;
    }
    match store::connect(url, 2).await {
        Ok(db) => {
            report.ok("database", format!("{shown} answers"));
            Some(db)
        }
        Err(e) => {
            report.fail(
                "database",
                format!("cannot reach {shown}: {}.", root_cause(&e)),
                "start the database, or set PAYLINK__DATABASE__URL to the one the intake uses.",
            );
            None
        }
    }
}

async fn migrations(db: &DatabaseConnection, report: &mut Report) {
    let known = schema_lock::migrations_known();
    // Read-only: `pending_migrations` would create the migrations table in an empty database.
    match schema_lock::pending_migrations_read_only(db).await {
        Ok(0) => report.ok("migrations", format!("current ({known} applied)")),
        Ok(pending) => report.fail(
            "migrations",
            format!("{pending} of this build's {known} migrations are not applied."),
            "run `paylink migrate` (or start the intake, which applies them).",
        ),
        Err(e) => report.fail(
            "migrations",
            format!("cannot read them: {}.", root_cause(&e)),
            "check that PAYLINK__DATABASE__URL names paylink's database.",
        ),
    }
}

async fn queue(settings: &Settings, report: &mut Report) {
    let url = match settings.queue_url() {
        Ok(url) => url,
        Err(e) => {
            report.fail("queue", format!("{e}."), "correct PAYLINK__QUEUE__URL.");
            return;
        }
    };
    let Some(url) = url else {
        if sqlite_file(&settings.database.url).is_some() {
            report.ok("queue", "embedded in the SQLite database (one process)");
        } else {
            report.fail(
                "queue",
                "no queue: PAYLINK__QUEUE__URL is unset, and the embedded queue needs SQLite.",
                "set PAYLINK__QUEUE__URL to your Redis (redis://…).",
            );
        }
        return;
    };
    let shown = store::redact_url(url);
    let answered =
        match paylink_core::queue::RedisQueue::connect(url, &settings.queue.namespace).await {
            Ok(queue) => queue.ping().await,
            Err(e) => Err(e),
        };
    match answered {
        Ok(()) => report.ok("queue", format!("Redis at {shown} answers")),
        Err(e) => report.fail(
            "queue",
            format!("Redis at {shown} does not answer: {}.", root_cause(&e)),
            "start Redis, or set PAYLINK__QUEUE__URL to the one the workers use.",
        ),
    }
}

async fn base_url(settings: &Settings, db: &DatabaseConnection, report: &mut Report) {
    let ours = store::redact_url(settings.public_base_url.trim_end_matches('/'));
    let ours = ours.as_str();
    let recorded = match deployment::get(db, deployment::PUBLIC_BASE_URL).await {
        Ok(recorded) => recorded,
        Err(e) => {
            report.fail(
                "public base URL",
                format!("cannot read what the intake recorded: {e}."),
                "run `paylink migrate`, then start the intake once.",
            );
            return;
        }
    };
    match recorded {
        None => report.warn(
            "public base URL",
            format!(
                "{ours}: no intake has started on this database yet, so it cannot be compared; start it and run the doctor again"
            ),
        ),
        Some(row)
            if row.value.trim_end_matches('/') == settings.public_base_url.trim_end_matches('/') =>
        {
            if settings.is_production() && !ours.starts_with("https://") {
                report.warn(
                    "public base URL",
                    format!("{ours} is not https: Stripe sends live webhooks to https endpoints only"),
                );
            } else {
                report.ok("public base URL", format!("{ours}, the same as the intake's"));
            }
        }
        Some(row) => report.fail(
            "public base URL",
            format!(
                "these settings say {ours}, but the intake runs with {} (recorded {}).",
                store::redact_url(&row.value),
                row.updated_at.format("%Y-%m-%d %H:%M UTC")
            ),
            "set PAYLINK__PUBLIC_BASE_URL to the same value for the intake, the workers and the doctor.",
        ),
    }
}

/// The innermost cause, which says what actually happened ("Connection refused").
fn root_cause(e: &anyhow::Error) -> String {
    e.chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}
