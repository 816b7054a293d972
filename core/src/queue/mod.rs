//! The job queue: Redis (apalis-redis) for a fleet of processes, or the embedded queue
//! (apalis-sqlite, in the database's own SQLite file) so that `paylink run` needs no services.
//! Both carry the same job types to the same handlers; the database holds every decision, so
//! the queue only ever says "look at this order or event now".

mod embedded;
mod job;
mod job_queue;
mod redis;

pub use embedded::EmbeddedQueue;
pub use job::Job;
pub use job_queue::JobQueue;
pub use redis::{FeederLock, Generation, RedisQueue};
