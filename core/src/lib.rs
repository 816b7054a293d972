//! paylink's core: everything below the HTTP layer and the command line.
//!
//! # Layout
//!
//! - [`domain`]: values valid by construction (`AmountCents`, `Currency`, `Email`) and the
//!   checks that turn what a caller sent into a new order.
//! - [`store`]: the database, one file per table; every state change a conditional update.
//! - [`stripe`]: paylink's own client for Stripe's API, its rate limits and its errors.
//! - [`queue`]: the job queue (Redis, or embedded in SQLite).
//! - [`jobs`]: the three jobs and the one list of them (`jobs::every_job!`).
//! - [`blasts`], [`orders`], [`products`], [`event_intake`]: what the intake asks of the core:
//!   create a blast, cancel or re-price an order, create a product, store a webhook's event.
//! - [`feeder`], [`reconcile`], [`stripe_sync`], [`settle`]: the work beside the jobs (the
//!   backlog into the queue, lost work found again, Stripe read back, a payment recorded once).
//! - [`mail`]: the mail that brings a payer their pay link: its templates and its message.
//! - [`pool::WorkerPool`]: the handle that runs all of it in a worker process.
//!
//! Depends on `migration` (the schema) only; never on the intake. `docs/architecture.md` draws
//! the crates and the rule.

pub mod blasts;
pub mod context;
pub mod domain;
pub mod emails;
pub mod event_intake;
pub mod feeder;
pub mod idle;
pub mod jobs;
pub mod mail;
pub mod mailer;
pub mod orders;
pub mod outbound;
pub mod policy;
pub mod pool;
pub mod products;
pub mod queue;
pub mod reconcile;
pub mod settle;
pub mod store;
pub mod stripe;
pub mod stripe_key;
pub mod stripe_sync;
pub mod timeline;
mod top_up;
pub mod views;
mod workers;

pub use context::{JobContext, RetrySettings};
pub use pool::WorkerPool;
pub use queue::JobQueue;
pub use workers::WorkerSettings;
