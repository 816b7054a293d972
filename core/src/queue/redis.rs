//! The Redis queue (apalis-redis): one storage per job type, under a namespace so that several
//! deployments (or test runs) can share one Redis. Also the feeder's lock, so that one process
//! at a time tops the queue up.

use std::time::Duration;

use anyhow::Context as _;
use apalis::prelude::TaskSink;
use apalis_redis::{Config, ConnectionManager, RedisStorage};

use super::Job;

/// The longest a Redis command may take; past it the caller treats Redis as down (the work is
/// in the database already and is enqueued later).
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the feeder lock lasts when its holder never releases it (the process was killed
/// mid-pass). A pass takes milliseconds and releases the lock; this only bounds how long a dead
/// holder stops every feeder, and with it the blast's backlog (it was 30 s: a worker SIGKILLed
/// while feeding stalled a 1,500-order blast for that long). Should a pass ever outlast it, two
/// feeders overlap harmlessly: each row is claimed by one conditional update, and the window
/// overfills by at most one pass.
const FEEDER_LOCK_TTL: Duration = Duration::from_secs(5);

/// Enqueues jobs. Cheap to clone; every clone shares one reconnecting Redis connection.
#[derive(Clone)]
pub struct RedisQueue {
    conn: ConnectionManager,
    namespace: String,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// Connects to Redis. Fails when Redis does not answer.
    /// Sets up the connection to Redis. It does not wait for Redis: a process started while
    /// Redis is down comes up (the intake stores orders and events and reports the queue as
    /// unavailable on `/readyz`), and every command reconnects, so work flows once Redis is back.
    /// Only an invalid URL fails here.
    pub async fn connect(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let redacted = crate::store::redact_url(url);
        let client = apalis_redis::Client::open(url)
            .with_context(|| format!("invalid Redis URL {redacted}"))?;
        // A lost connection is retried briefly, then the command fails: a caller (an intake
        // request) must not wait out a long reconnect schedule while Redis is down.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(ENQUEUE_TIMEOUT));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .with_context(|| format!("cannot set up a connection to Redis at {redacted}"))?;
        let queue = Self {
            conn,
            namespace: namespace.to_owned(),
        };
        if let Err(e) = queue.ping().await {
            tracing::warn!(
                error = %format!("{e:#}"),
                "Redis at {redacted} does not answer yet; work is kept in the database and enqueued once it does"
            );
        }
        Ok(queue)
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

    /// Puts one job on its queue, or fails within [`ENQUEUE_TIMEOUT`].
    pub async fn enqueue<J: Job + std::fmt::Debug>(&self, job: J) -> anyhow::Result<()> {
        let described = format!("{job:?}");
        tokio::time::timeout(ENQUEUE_TIMEOUT, self.storage::<J>().push(job))
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer within {ENQUEUE_TIMEOUT:?}"))?
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("failed to enqueue {} {described}", J::QUEUE))
    }

    /// Puts many jobs on their queue in one round trip, or fails within [`ENQUEUE_TIMEOUT`].
    pub(crate) async fn enqueue_many<J: Job>(&self, jobs: Vec<J>) -> anyhow::Result<()> {
        let count = jobs.len();
        tokio::time::timeout(ENQUEUE_TIMEOUT, self.storage::<J>().push_bulk(jobs))
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer within {ENQUEUE_TIMEOUT:?}"))?
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

    /// A connection to the same Redis (the rate limiter shares it).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// When the queue this Redis holds began (see [`Generation`]). A Redis without the marker
    /// has lost the queue, or never held it: a new generation begins now, and this call is the
    /// one that says so (`began_now`).
    pub async fn generation(&self) -> anyhow::Result<Generation> {
        let mut conn = self.conn.clone();
        let now = chrono::Utc::now();
        let (millis, began_now): (i64, bool) = redis::Script::new(GENERATION)
            .key(format!("{}:queue:generation", self.namespace))
            .arg(now.timestamp_millis())
            .invoke_async(&mut conn)
            .await
            .context("failed to read the queue's generation marker")?;
        let started_at = chrono::DateTime::from_timestamp_millis(millis)
            .with_context(|| format!("the queue's generation marker holds {millis}, not a time"))?;
        if began_now {
            metrics::counter!("paylink_queue_generations_total").increment(1);
            tracing::warn!(
                "the queue's marker is missing from Redis: Redis is new, or lost its data \
                 (flushed, restarted without persistence, failed over to an empty replica); \
                 unfinished work enqueued before now is enqueued again"
            );
        }
        Ok(Generation {
            started_at,
            began_now,
        })
    }

    /// Takes the feeder lock for [`FEEDER_LOCK_TTL`] unless another process holds it.
    pub(crate) async fn lock_feeder(&self) -> anyhow::Result<Option<FeederLock>> {
        self.lock("feeder", FEEDER_LOCK_TTL).await
    }

    /// Takes the lock `name` for at most `ttl` unless another process holds it.
    pub async fn lock(&self, name: &str, ttl: Duration) -> anyhow::Result<Option<FeederLock>> {
        let mut conn = self.conn.clone();
        let key = format!("{}:{name}:lock", self.namespace);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let acquired: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .with_context(|| format!("failed to take the {name} lock"))?;
        Ok(acquired.map(|_| FeederLock::Redis { conn, key, token }))
    }
}

/// Reads the generation marker, or sets it to ARGV[1] (now) when it is missing.
const GENERATION: &str = r"
local started = redis.call('GET', KEYS[1])
if started then return {tonumber(started), 0} end
redis.call('SET', KEYS[1], ARGV[1])
return {tonumber(ARGV[1]), 1}
";

/// The queue's generation: the moment this Redis began to hold paylink's queue, read from a
/// marker key the feeder writes. Redis loses the marker exactly when it loses the jobs (a
/// `FLUSHALL`/`FLUSHDB`, a restart without persistence, a failover to an empty replica), so a
/// missing marker means every job enqueued before now is gone, and the database rows stamped
/// as enqueued before `started_at` are work to hand out again, at once rather than after
/// `reconcile.stale_after_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation {
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// This call found the marker missing and began the generation.
    pub began_now: bool,
}

/// Releases the lock only if this process still holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The feeder's turn, held until [`FeederLock::release`] (or for at most [`FEEDER_LOCK_TTL`] in
/// Redis).
pub enum FeederLock {
    Redis {
        conn: ConnectionManager,
        key: String,
        token: String,
    },
    /// Nothing to release: the embedded queue's feeder shares with no one.
    Unshared,
}

impl FeederLock {
    pub async fn release(self) {
        if let Self::Redis {
            mut conn,
            key,
            token,
        } = self
        {
            let released: Result<i64, _> = redis::Script::new(UNLOCK)
                .key(&key)
                .arg(&token)
                .invoke_async(&mut conn)
                .await;
            if let Err(e) = released {
                tracing::debug!(error = %e, "feeder lock not released; it expires by itself");
            }
        }
    }
}
