//! The embedded queue: apalis-sqlite in the same SQLite file as paylink's tables, so a single
//! `paylink run` needs no Redis. Jobs live in apalis's `Jobs` table; finished ones are removed
//! by [`EmbeddedQueue::tidy`] so the file does not grow with every blast.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use apalis::prelude::TaskSink;
use apalis_sqlite::{Config, SqliteStorage};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::Job;

/// Finished jobs are kept this long (for apalis's own introspection), then deleted.
const KEEP_FINISHED_SECS: i64 = 3600;
/// How often [`EmbeddedQueue::tidy`] actually deletes.
const TIDY_EVERY_SECS: i64 = 60;

/// The queue inside the database. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: DatabaseConnection,
    namespace: String,
    last_tidy: Arc<AtomicI64>,
}

impl std::fmt::Debug for EmbeddedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedQueue")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EmbeddedQueue {
    /// Creates apalis's tables in `db` (a SQLite database) when missing.
    pub async fn open(db: &DatabaseConnection, namespace: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            db.get_database_backend() == DbBackend::Sqlite,
            "the embedded queue lives in a SQLite database; with PostgreSQL set PAYLINK__QUEUE__URL=redis://…"
        );
        // Under the schema lock: two processes opening a fresh file at once must not both
        // create apalis's tables.
        crate::store::schema_lock::under_lock(db, async {
            SqliteStorage::migrations()
                .run(db.get_sqlite_connection_pool())
                .await
                .context("failed to create the embedded queue's tables")
        })
        .await?;
        Ok(Self {
            db: db.clone(),
            namespace: namespace.to_owned(),
            last_tidy: Arc::new(AtomicI64::new(0)),
        })
    }

    fn queue_name<J: Job>(&self) -> String {
        format!("{}:{}", self.namespace, J::QUEUE)
    }

    /// The storage behind one job type. Workers poll it; the intake pushes to it.
    pub fn storage<J: Job>(&self) -> SqliteStorage<J> {
        let config = Config::default()
            .queue(self.queue_name::<J>())
            // A killed process's jobs come back within seconds, as with Redis.
            .heartbeat_interval(Duration::from_secs(2))
            .missed_heartbeats(3)
            .batch_size(10);
        SqliteStorage::new(self.db.get_sqlite_connection_pool()).with_config(config)
    }

    pub async fn enqueue<J: Job + std::fmt::Debug>(&self, job: J) -> anyhow::Result<()> {
        let described = format!("{job:?}");
        self.storage::<J>()
            .push(job)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue {} {described}", J::QUEUE))
    }

    pub(crate) async fn enqueue_many<J: Job>(&self, jobs: Vec<J>) -> anyhow::Result<()> {
        let count = jobs.len();
        self.storage::<J>()
            .push_bulk(jobs)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue {count} {} jobs", J::QUEUE))
    }

    /// Jobs no worker has fetched yet, retries included.
    pub async fn due<J: Job>(&self) -> anyhow::Result<u64> {
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM Jobs WHERE job_type = ? \
                 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))",
                [self.queue_name::<J>().into()],
            ))
            .await
            .with_context(|| format!("failed to measure the {} queue", J::QUEUE))?;
        Ok(row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        tokio::time::timeout(Duration::from_secs(1), self.db.ping())
            .await
            .map_err(|_| anyhow::anyhow!("the database did not answer within 1 s"))?
            .context("the database holding the embedded queue does not answer")
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Deletes jobs finished over an hour ago, and workers gone for a day that hold no job;
    /// at most once a minute.
    pub(crate) async fn tidy(&self) -> anyhow::Result<()> {
        let now = chrono::Utc::now().timestamp();
        let last = self.last_tidy.load(Ordering::Relaxed);
        if now - last < TIDY_EVERY_SECS
            || self
                .last_tidy
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        let prefix = format!("{}:%", self.namespace);
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "DELETE FROM Jobs WHERE job_type LIKE ? AND done_at < ? \
                 AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
                [prefix.into(), (now - KEEP_FINISHED_SECS).into()],
            ))
            .await
            .context("failed to delete finished jobs")?;
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "DELETE FROM Workers WHERE last_seen < ? \
                 AND id NOT IN (SELECT lock_by FROM Jobs WHERE lock_by IS NOT NULL)",
                [(now - 86_400).into()],
            ))
            .await
            .context("failed to delete departed workers")?;
        Ok(())
    }
}
