//! What travels on the queue: a job's payload, named by its queue.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A job payload and the queue it travels on.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue name under the namespace (`{namespace}:{QUEUE}`).
    const QUEUE: &'static str;
}
