//! The Redis queue (apalis-redis): one storage per job type, under a namespace so that several
//! deployments (or test runs) can share one Redis.

use std::time::Duration;

use anyhow::Context as _;
use apalis::prelude::TaskSink;
use apalis_redis::{Config, ConnectionManager, RedisStorage};

use crate::jobs::mint_link::MintLink;

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
    pub fn storage<T>(&self, job: &str) -> RedisStorage<T> {
        let config = Config::default()
            .queue(format!("{}:{job}", self.namespace))
            // Short heartbeats: a killed worker's jobs come back within seconds, not minutes.
            .heartbeat_interval(Duration::from_secs(2))
            .missed_heartbeats(3)
            .batch_size(10);
        RedisStorage::new(self.conn.clone()).with_config(config)
    }

    /// Asks a worker to mint the order's link for this generation.
    pub async fn enqueue_mint(&self, job: MintLink) -> anyhow::Result<()> {
        let order_id = job.order_id.clone();
        self.storage::<MintLink>(MintLink::QUEUE)
            .push(job)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue mint_link for order {order_id}"))
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
