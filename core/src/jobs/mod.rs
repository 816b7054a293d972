//! One file per job: the payload and its handler side by side, and the one list of them.
//!
//! A job is a payload type implementing [`BackgroundJob`]: its queue's name
//! ([`crate::queue::Job::QUEUE`]) and `run`, which does the work with the shared
//! [`crate::JobContext`] and the queue (to hand work on).
//! [`run_job`] is the one apalis handler for every job type. [`every_job!`] (in `list.rs`) lists
//! the types once: the worker pool registers a worker per entry ([`crate::workers`]), and the
//! queue depths ([`queue_depths`]: `/metrics`, the dashboard, the tests' drain) measure each
//! entry's queue. A new job is a file here and a line in that list.

mod background_job;
pub mod deactivate_link;
mod lease;
mod list;
pub mod mint_link;
mod running;
pub mod send_email;
pub mod stripe_event;

pub use background_job::BackgroundJob;
pub(crate) use background_job::run_job;
pub(crate) use list::every_job;
pub use list::queue_depths;
pub use running::RunningJobs;
pub(crate) use running::counted;
