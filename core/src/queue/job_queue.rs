//! The one handle on the queue, whichever backend carries it.

use sea_orm::{DatabaseConnection, DbErr};

use super::Job;
use super::embedded::EmbeddedQueue;
use super::redis::{FeederLock, Generation, RedisQueue};
use crate::stripe::RateLimiter;

/// Enqueues jobs. Cheap to clone.
#[derive(Clone, Debug)]
pub enum JobQueue {
    Redis(RedisQueue),
    Embedded(EmbeddedQueue),
}

impl JobQueue {
    /// Redis when `url` is given (`redis://…`), else the embedded queue inside `db`, which must
    /// then be SQLite.
    pub async fn connect(
        url: Option<&str>,
        namespace: &str,
        db: &DatabaseConnection,
    ) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Self::Redis(RedisQueue::connect(url, namespace).await?)),
            None => Ok(Self::Embedded(EmbeddedQueue::open(db, namespace).await?)),
        }
    }

    /// Puts one job on its queue.
    pub async fn enqueue<J: Job + std::fmt::Debug>(&self, job: J) -> anyhow::Result<()> {
        match self {
            Self::Redis(q) => q.enqueue(job).await,
            Self::Embedded(q) => q.enqueue(job).await,
        }
    }

    /// Puts many jobs on their queue at once.
    pub(crate) async fn enqueue_many<J: Job>(&self, jobs: Vec<J>) -> anyhow::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        match self {
            Self::Redis(q) => q.enqueue_many(jobs).await,
            Self::Embedded(q) => q.enqueue_many(jobs).await,
        }
    }

    /// The one way work stamped as enqueued goes on the queue. The producer stamps the rows
    /// (`enqueued_at`) in the same write that creates the work, then calls this. When the queue
    /// refuses the jobs, `unstamp` returns the rows to the backlog, where the feeder hands them
    /// out as soon as the queue answers (not after `stale_after`, as lost work would be).
    /// Returns whether the jobs went on the queue; an error only when unstamping failed (the
    /// rows then stay stamped, and the reconciler finds them).
    pub async fn enqueue_stamped<J, F>(&self, jobs: Vec<J>, unstamp: F) -> Result<bool, DbErr>
    where
        J: Job,
        F: std::future::Future<Output = Result<(), DbErr>>,
    {
        let count = jobs.len();
        match self.enqueue_many(jobs).await {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::warn!(queue = J::QUEUE, count, error = %format!("{e:#}"), "work stored but not enqueued; the feeder takes it");
                unstamp.await?;
                Ok(false)
            }
        }
    }

    /// Jobs of type `J` waiting for a worker (not yet fetched).
    pub async fn due<J: Job>(&self) -> anyhow::Result<u64> {
        match self {
            Self::Redis(q) => q.due::<J>().await,
            Self::Embedded(q) => q.due::<J>().await,
        }
    }

    /// Whether the queue answers within a second.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            Self::Redis(q) => q.ping().await,
            Self::Embedded(q) => q.ping().await,
        }
    }

    /// The namespace every queue name starts with.
    pub fn namespace(&self) -> &str {
        match self {
            Self::Redis(q) => q.namespace(),
            Self::Embedded(q) => q.namespace(),
        }
    }

    /// The Stripe limiter every process using this queue shares: in Redis for a fleet, in
    /// this process for the embedded queue (which serves one process).
    pub fn rate_limiter(&self, per_second: u32) -> RateLimiter {
        match self {
            Self::Redis(q) => RateLimiter::fleet(q.connection(), q.namespace(), per_second),
            Self::Embedded(_) => RateLimiter::local(per_second),
        }
    }

    /// The mail server's limit (`email.rate_per_sec`), shared the same way as Stripe's.
    pub fn mail_rate_limiter(&self, per_second: u32) -> RateLimiter {
        match self {
            Self::Redis(q) => {
                RateLimiter::fleet_named(q.connection(), q.namespace(), "mail", per_second)
            }
            Self::Embedded(_) => RateLimiter::local(per_second),
        }
    }

    /// A second limit for background reads (the sweeps of Stripe), taken on top of the shared
    /// one, so that they never use more than `per_second` of it.
    pub fn background_rate_limiter(&self, per_second: u32) -> RateLimiter {
        match self {
            Self::Redis(q) => RateLimiter::fleet(
                q.connection(),
                &format!("{}:background", q.namespace()),
                per_second,
            ),
            Self::Embedded(_) => RateLimiter::local(per_second),
        }
    }

    /// The feeder's turn: `None` while another process holds it. The embedded queue needs no
    /// lock: it serves one process, whose feeder runs its passes one after another.
    pub(crate) async fn lock_feeder(&self) -> anyhow::Result<Option<FeederLock>> {
        match self {
            Self::Redis(q) => q.lock_feeder().await,
            Self::Embedded(_) => Ok(Some(FeederLock::Unshared)),
        }
    }

    /// The turn of one of the sweeps of Stripe (`name`), held for at most `ttl`: `None` while
    /// another process holds it. The embedded queue runs in one process and needs none.
    pub(crate) async fn lock_sweep(
        &self,
        name: &str,
        ttl: std::time::Duration,
    ) -> anyhow::Result<Option<FeederLock>> {
        match self {
            Self::Redis(q) => q.lock(&format!("sweep:{name}"), ttl).await,
            Self::Embedded(_) => Ok(Some(FeederLock::Unshared)),
        }
    }

    /// The Redis queue's generation: jobs enqueued before its start are not in Redis. `None`
    /// for the embedded queue, whose jobs live in the same database file as the rows that
    /// record them and cannot be lost apart from them.
    pub async fn generation(&self) -> anyhow::Result<Option<Generation>> {
        match self {
            Self::Redis(q) => q.generation().await.map(Some),
            Self::Embedded(_) => Ok(None),
        }
    }

    /// Housekeeping between feeder passes: the embedded queue drops finished jobs.
    pub(crate) async fn tidy(&self) -> anyhow::Result<()> {
        match self {
            Self::Redis(_) => Ok(()),
            Self::Embedded(q) => q.tidy().await,
        }
    }
}
