//! What every request handler shares: the router's state, built by `startup.rs` from the
//! settings and the engine. It names only types of files below the handlers (the gauges, the
//! throttle, the client address, the pay clicks' single flight), so the handlers depend on it
//! and nothing here depends on them.

use std::sync::Arc;

use axum::extract::FromRef;
use paylink_core::event_intake::EventIntake;
use paylink_core::{JobContext, JobQueue};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use super::client_ip::ClientIp;
use super::metrics::{GaugeCache, Scrape};
use super::pay::{ClickMint, OnceAMinute, SingleFlight};
use super::throttle::Throttle;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub queue: JobQueue,
    pub jobs: Arc<JobContext>,
    pub admin_token: SecretString,
    pub click_mint_attempts: u32,
    pub webhooks: Arc<WebhookSettings>,
    /// The Stripe dashboard's base URL when the key is live (the admin pages link there).
    pub stripe_dashboard: Option<String>,
    /// `/metrics`'s deployment gauges, read at most once per interval however often scraped.
    pub gauges: Arc<GaugeCache>,
    /// Failed admin-token attempts per client address.
    pub throttle: Arc<Throttle>,
    /// `http.client_ip_header`: where a reverse proxy puts the client's address.
    pub client_ip: Arc<ClientIp>,
    /// How long dashboard sessions live.
    pub sessions: paylink_core::store::admin_session::Limits,
    /// How long a rotated endpoint secret keeps signing (`outbound.secret_overlap_secs`).
    pub secret_overlap: std::time::Duration,
    /// The return page's Stripe reads, one per order a minute.
    pub return_reads: Arc<OnceAMinute>,
    /// Pay clicks' mints in flight, one per order.
    pub click_mints: Arc<SingleFlight<ClickMint>>,
    /// Whether endpoints may be registered on non-public addresses
    /// (`outbound.allow_private_networks`).
    pub allow_private_networks: bool,
}

/// What the webhook route needs: the secrets to verify with and the batching store.
pub struct WebhookSettings {
    pub secrets: Vec<SecretString>,
    pub tolerance_secs: u64,
    pub intake: EventIntake,
}

impl FromRef<AppState> for Scrape {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            queue: state.queue.clone(),
            gauges: state.gauges.clone(),
        }
    }
}
