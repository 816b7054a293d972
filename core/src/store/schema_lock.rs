//! Schema changes under a lock, so any number of processes may start at once on a fresh or an
//! old database. sea-orm-migration takes no lock of its own: two processes migrating a fresh
//! PostgreSQL database at once collide (`duplicate key value violates unique constraint
//! "pg_type_typname_nsp_index"`) and the loser exits. With the lock, the first process applies
//! what is pending; the others wait for it, then find nothing to do.
//!
//! - PostgreSQL: a session-level advisory lock on a connection of its own, held while the
//!   migrations run on the pool (advisory locks are per database: other databases on the same
//!   server are not held up). A process that dies while holding it closes its connection, and
//!   the server releases the lock.
//! - SQLite: an exclusive lock on a file beside the database (`<file>-migrate.lock`), released by
//!   the operating system when the process exits. SQLite's own write lock cannot serve: the
//!   migrations need it themselves.

use std::time::Instant;

use anyhow::Context as _;
use migration::MigratorTrait as _;
use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
use sea_orm::{DatabaseConnection, DbBackend};

/// The advisory lock's key ("paylink" in ASCII): the same in every paylink process.
const PG_LOCK_KEY: i64 = 0x0070_6179_6C69_6E6B;

/// Held while the schema changes; released by [`SchemaLock::release`] (or when dropped).
pub struct SchemaLock {
    held: Held,
}

enum Held {
    Postgres(sea_orm::sqlx::PgConnection),
    File(std::fs::File),
    /// An in-memory SQLite database belongs to this process alone.
    Nothing,
}

impl SchemaLock {
    /// Takes the lock, waiting for another process that holds it. A process that had to wait
    /// says so in its log, with how long.
    pub async fn acquire(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let held = match db.get_database_backend() {
            DbBackend::Postgres => lock_postgres(db).await?,
            DbBackend::Sqlite => lock_sqlite_file(db).await?,
            other => anyhow::bail!("paylink has no schema lock for {other:?}"),
        };
        Ok(Self { held })
    }

    /// Lets the next process in.
    pub async fn release(self) {
        match self.held {
            Held::Postgres(conn) => {
                if let Err(e) = conn.close().await {
                    // The server drops the lock with the connection either way.
                    tracing::debug!(error = %e, "closing the schema lock's connection failed");
                }
            }
            Held::File(file) => {
                if let Err(e) = file.unlock() {
                    // Closing the file (next) releases it either way.
                    tracing::debug!(error = %e, "unlocking the schema lock file failed");
                }
            }
            Held::Nothing => {}
        }
    }
}

fn log_waiting() -> Instant {
    tracing::info!("another paylink process is changing the database schema; waiting for it");
    Instant::now()
}

fn log_waited(since: Instant) {
    tracing::info!(
        waited_ms = since.elapsed().as_millis() as u64,
        "the other process finished its schema changes; continuing"
    );
}

async fn lock_postgres(db: &DatabaseConnection) -> anyhow::Result<Held> {
    let options = db.get_postgres_connection_pool().connect_options();
    let mut conn = options
        .connect()
        .await
        .context("failed to open a connection for the schema lock")?;
    let taken: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(PG_LOCK_KEY)
        .fetch_one(&mut conn)
        .await
        .context("failed to take the schema lock")?;
    if !taken {
        let since = log_waiting();
        sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_LOCK_KEY)
            .execute(&mut conn)
            .await
            .context("failed to wait for the schema lock")?;
        log_waited(since);
    }
    Ok(Held::Postgres(conn))
}

async fn lock_sqlite_file(db: &DatabaseConnection) -> anyhow::Result<Held> {
    let options = db.get_sqlite_connection_pool().connect_options();
    let database = options.get_filename();
    if database.as_os_str().is_empty() || database.as_os_str() == ":memory:" {
        return Ok(Held::Nothing);
    }
    let mut path = database.as_os_str().to_owned();
    path.push("-migrate.lock");
    let path = std::path::PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open the schema lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Held::File(file)),
        Err(std::fs::TryLockError::WouldBlock) => {
            let since = log_waiting();
            let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                .await
                .context("the schema lock's waiting thread failed")?
                .with_context(|| format!("failed to lock {}", path.display()))?;
            log_waited(since);
            Ok(Held::File(file))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("failed to lock {}", path.display()))
        }
    }
}

/// Runs `change` (a schema change on `db`) under the schema lock, releasing the lock whether
/// it succeeds or fails.
pub(crate) async fn under_lock<T>(
    db: &DatabaseConnection,
    change: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let lock = SchemaLock::acquire(db).await?;
    let result = change.await;
    lock.release().await;
    result
}

/// Applies paylink's pending migrations under the schema lock; returns how many it applied
/// (0 when another process had applied them first).
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let applied = under_lock(db, apply_pending(db)).await?;
    if applied == 0 {
        tracing::info!("the database schema is up to date");
    } else {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(applied)
}

/// How many of this build's migrations the database has not applied yet.
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<usize> {
    Ok(migration::Migrator::get_pending_migrations(db)
        .await
        .context("failed to read which migrations are applied")?
        .len())
}

/// How many of this build's migrations the database has not applied, found without writing
/// anything: `paylink doctor` checks a database it must leave as it found it, and
/// [`pending_migrations`] (sea-orm-migration's own count) creates the `seaql_migrations`
/// table when it is missing. A database without that table has applied none.
pub async fn pending_migrations_read_only(db: &DatabaseConnection) -> anyhow::Result<usize> {
    use sea_orm::{ConnectionTrait as _, Statement};
    let backend = db.get_database_backend();
    let exists = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
        }
        DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = 'seaql_migrations'"
        }
        other => anyhow::bail!("paylink cannot read the migrations of {other:?}"),
    };
    let found = db
        .query_one_raw(Statement::from_string(backend, exists))
        .await
        .context("failed to look for the migrations table")?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()
        .context("failed to look for the migrations table")?
        .unwrap_or(0);
    let known = migration::Migrator::migrations();
    if found == 0 {
        return Ok(known.len());
    }
    let applied: std::collections::HashSet<String> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .context("failed to read which migrations are applied")?
        .into_iter()
        .filter_map(|row| row.try_get::<String>("", "version").ok())
        .collect();
    Ok(known.iter().filter(|m| !applied.contains(m.name())).count())
}

/// How many migrations this build knows (the schema it expects).
pub fn migrations_known() -> usize {
    migration::Migrator::migrations().len()
}

async fn apply_pending(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let pending = pending_migrations(db).await?;
    if pending > 0 {
        migration::Migrator::up(db, None)
            .await
            .context("failed to apply database migrations")?;
    }
    Ok(pending)
}
