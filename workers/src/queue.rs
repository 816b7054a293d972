//! The Redis queue (apalis-redis): one storage per job type, under a namespace so that several
//! deployments (or test runs) can share one Redis.

use std::time::Duration;

use anyhow::Context as _;
use apalis::prelude::TaskSink;
use apalis_redis::{Config, ConnectionManager, RedisStorage};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A job payload and the queue it travels on.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue name under the namespace (`{namespace}:{QUEUE}`).
    const QUEUE: &'static str;
}

/// Enqueues jobs. Cheap to clone; every clone shares one reconnecting Redis connection.
#[derive(Clone)]
pub struct JobQueue {
    conn: ConnectionManager,
    namespace: String,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl JobQueue {
    /// Connects to Redis. Fails when Redis does not answer.
    pub async fn connect(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let client = apalis_redis::Client::open(url)
            .with_context(|| format!("invalid Redis URL {}", crate::store::redact_url(url)))?;
        let conn = tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer within 5 s"))?
            .with_context(|| {
                format!(
                    "failed to connect to Redis at {}",
                    crate::store::redact_url(url)
                )
            })?;
        Ok(Self {
            conn,
            namespace: namespace.to_owned(),
        })
    }

    /// The storage behind one job type. Workers poll it; the intake pushes to it.
    pub fn storage<J: Job>(&self) -> RedisStorage<J> {
        let config = Config::default()
            .queue(format!("{}:{}", self.namespace, J::QUEUE))
            // Short heartbeats: a killed worker's jobs come back within seconds, not minutes.
            .heartbeat_interval(Duration::from_secs(2))
            .missed_heartbeats(3)
            .batch_size(10);
        RedisStorage::new(self.conn.clone()).with_config(config)
    }

    /// Puts one job on its queue.
    pub async fn enqueue<J: Job + std::fmt::Debug>(&self, job: J) -> anyhow::Result<()> {
        let described = format!("{job:?}");
        self.storage::<J>()
            .push(job)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue {} {described}", J::QUEUE))
    }

    /// Puts many jobs on their queue in one round trip.
    pub async fn enqueue_many<J: Job>(&self, jobs: Vec<J>) -> anyhow::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let count = jobs.len();
        self.storage::<J>()
            .push_bulk(jobs)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue {count} {} jobs", J::QUEUE))
    }

    /// Jobs of type `J` due in Redis: waiting to be fetched now or scheduled (apalis-redis
    /// keeps bulk-pushed jobs in the scheduled set until a worker promotes them).
    pub async fn due<J: Job>(&self) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        let base = format!("{}:{}", self.namespace, J::QUEUE);
        let (active, scheduled): (u64, u64) = redis::pipe()
            .cmd("LLEN")
            .arg(format!("{base}:active"))
            .cmd("ZCARD")
            .arg(format!("{base}:scheduled"))
            .query_async(&mut conn)
            .await
            .with_context(|| format!("failed to measure the {} queue", J::QUEUE))?;
        Ok(active + scheduled)
    }

    /// Whether Redis answers a PING within a second.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer within 1 s"))?
        .context("Redis PING failed")?;
        Ok(())
    }

    /// The namespace every queue key starts with.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A connection for housekeeping (tests clean their namespace with it).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
