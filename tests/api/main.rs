#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot unwrap should fail loudly"
)]

//! paylink's integration tests: one binary, real PostgreSQL and Redis, the Stripe stand-in on
//! port 0, the intake on port 0. Each test gets its own database and Redis namespace.

mod admin;
mod blast_cli_preview;
mod blast_preview;
mod blast_progress;
mod blast_upload;
mod blasts;
mod browser;
mod cli;
mod connections;
mod contention;
mod dashboard;
mod doctor;
mod email;
mod exports;
mod fake_stripe;
mod faults;
mod hostile_input;
mod ledger;
mod mint;
mod orders;
mod organiser_api;
mod organiser_cli;
mod outbound;
mod outbound_bounds;
mod outbound_dashboard;
mod outbound_faults;
mod outbound_receiver;
mod outbound_targets;
mod pay;
mod pay_limits;
mod products;
mod properties;
mod reconcile;
mod recovery;
mod safe_defaults;
mod security;
mod store;
mod stripe_key;
mod webhooks;
