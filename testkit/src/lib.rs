//! What paylink's tests stand on, one concern per module: a fresh database ([`database`]), a
//! Redis namespace of the test's own ([`redis`]), the stacks the core flows run on ([`stack`]),
//! paylink itself with the stand-in beside it ([`app`]), the calls tests make to it
//! ([`intake`]), `paylink work` as a child process
//! ([`process`]), the stand-in seen from outside ([`stand_in`]), and waiting for something to
//! happen, or for all work to finish before asserting that nothing else did ([`wait`]).
//!
//! A dev-dependency of the `paylink` crate only; nothing in the shipped binary uses it.

pub mod app;
pub mod database;
pub mod intake;
pub mod process;
pub mod redis;
pub mod stack;
pub mod stand_in;
pub mod wait;

pub use app::{AppOptions, TestApp, spawn_app, spawn_app_with};
pub use database::{Db, TestDatabase, free_port, postgres_url, through_port};
pub use intake::order_body;
pub use process::Running;
pub use redis::{clean_redis_namespace, redis_url};
pub use stack::Stack;
pub use stand_in::sign;
pub use wait::eventually;

/// The admin token every test app is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The secret the stand-in signs with; paylink accepts it and `WEBHOOK_SECRET_2` (a roll).
pub const WEBHOOK_SECRET: &str = "whsec_test_primary";
pub const WEBHOOK_SECRET_2: &str = "whsec_test_secondary";
