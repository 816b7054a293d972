//! sea-orm entities and the queries on them, one file per table. State transitions are
//! conditional updates whose affected-row count says who won; uniqueness is the schema's job.

pub mod admin_session;
pub mod blast;
pub mod dashboard;
pub mod deployment;
pub mod email;
mod enqueued;
pub mod lease;
pub mod money;
#[cfg(test)]
mod moves_test;
pub mod operator;
pub mod order;
pub mod order_change;
pub mod order_search;
pub mod outbound_delivery;
pub mod outbound_event;
pub mod outbound_replay;
pub mod payment;
pub mod payment_link;
pub mod product;
pub mod schema_lock;
pub(crate) mod stripe_cursor;
pub mod stripe_event;
pub mod stripe_minute;
pub mod webhook_endpoint;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Starts a transaction that will write. On SQLite it begins as a write (`BEGIN IMMEDIATE`),
/// taking the file's one write lock at once and waiting for it up to the busy timeout; a plain
/// (deferred) transaction that reads and then writes is refused with "database is locked" when
/// another connection wrote in between, whatever the timeout, so with the workers busy an
/// operator's cancel would fail. PostgreSQL ignores the mode. Every transaction in paylink
/// writes, so every one starts here.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Opens a connection pool for `postgres://…` or `sqlite://…` URLs. SQLite files are created
/// when missing so that the embedded default needs no setup.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    use anyhow::Context as _;
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    };
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "failed to create the directory {} for SQLite",
                dir.display()
            )
        })?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(std::time::Duration::from_secs(5))
        .acquire_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false)
        // SQLite: WAL lets readers run beside the one writer (the intake, the workers and the
        // embedded queue share the file); a writer waits for the lock rather than failing.
        // `synchronous` stays FULL, so a commit is on disk before paylink answers.
        // PostgreSQL: a process frozen inside a transaction (SIGSTOP, a paused VM) keeps its
        // connection and its row locks; after 30 s idle in the transaction the server ends the
        // session and the locks go with it, so the other workers carry on.
        .map_sqlx_postgres_opts(|opts| {
            opts.options([("idle_in_transaction_session_timeout", "30s")])
        })
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(10))
        });
    // Switching a fresh SQLite file to WAL takes an exclusive lock that the busy timeout does
    // not wait for: a second process opening the same new file at that instant is refused
    // ("database is locked"). The switch takes milliseconds; try again a few times.
    let mut tries = 0;
    loop {
        match Database::connect(opts.clone()).await {
            Err(e) if url.starts_with("sqlite:") && tries < 20 && is_locked(&e) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(db) => return Ok(db),
            // The driver's message may quote the whole URL ("The connection string '…' cannot
            // be parsed"), password and all: it is rebuilt with the URL redacted, and the
            // original error is not kept as its source.
            Err(e) => {
                let shown = redact_url(&url);
                let message = e.to_string().replace(&url, &shown);
                return Err(anyhow::anyhow!(message)
                    .context(format!("failed to connect to the database at {shown}")));
            }
        }
    }
}

/// Whether SQLite refused for a lock another connection holds (SQLITE_BUSY).
fn is_locked(error: &DbErr) -> bool {
    error.to_string().contains("database is locked")
}

mod redact;
pub use redact::{redact_url, redact_url_hiding};

/// Whether `key` could name a row (the finders ask before the database does).
pub use crate::domain::could_be_key;

/// A fresh identifier with a short prefix naming its kind (`ord_…`, `prd_…`, `bl_…`).
/// Random, so ids never repeat across databases: they are part of Stripe idempotency keys.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
