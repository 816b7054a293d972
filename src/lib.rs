//! paylink's intake and command line: the thin HTTP layer that validates, stores and enqueues.
//! The engine it hands work to is `paylink-core`; the Stripe stand-in behind
//! `paylink fake-stripe` is the `fake-stripe` crate, re-exported here as `fake_stripe`.

pub mod announce;
pub mod bad_input;
pub mod blast_cli;
pub mod blast_csv;
pub mod blast_export;
pub mod blast_preview;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod http_server;
#[cfg(feature = "demo")]
pub use fake_stripe;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod webhook_signature;
#[cfg(not(feature = "demo"))]
mod without_demo;
