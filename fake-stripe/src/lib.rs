//! `paylink fake-stripe`: a stateful stand-in that speaks Stripe's wire format, for development,
//! tests, demos and benchmarks. It shares no code with paylink's Stripe client or domain: it
//! parses Stripe's form encoding and builds Stripe's objects on its own, so it cannot agree with
//! our mistakes, and it talks to paylink only over HTTP. It is a crate of its own that depends on
//! none of paylink's crates, so nothing can make it share that code by accident.
//!
//! [`FakeStripeServer`] runs it; [`FakeStripeClient`] drives its controls (`/_fake/…`) and reads
//! its objects back, for the demo, the tests and the benchmarks.

mod api;
mod catalogue;
mod client;
mod control;
mod error;
mod events;
mod form;
mod lists;
mod objects;
mod pipeline;
mod sessions;
mod spec;
mod state;
mod versions;
mod webhook_endpoints;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use client::FakeStripeClient;
pub use state::FakeConfig;

/// Whether `addr` (`host:port`) only listens on this machine: 127.0.0.0/8, `::1` or
/// `localhost`. The stand-in's controls need no credentials and anyone who reaches it can pay
/// links and read payers' data, so `paylink fake-stripe` refuses anything else unless told.
pub fn is_loopback(addr: &str) -> bool {
    // With or without a port: an address the listener cannot use is its error, not this one.
    let ip = addr
        .parse::<SocketAddr>()
        .map(|socket| socket.ip())
        .or_else(|_| addr.parse::<std::net::IpAddr>());
    if let Ok(ip) = ip {
        return ip.to_canonical().is_loopback();
    }
    let host = addr.rsplit_once(':').map_or(addr, |(host, _port)| host);
    host.eq_ignore_ascii_case("localhost")
}

/// The stand-in's shared state and the base URL its links live under.
pub struct FakeStripe {
    state: Mutex<state::State>,
    base_url: String,
}

impl FakeStripe {
    fn lock(&self) -> MutexGuard<'_, state::State> {
        // A panic while holding the lock leaves counters, not invariants, half-done: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running stand-in.
pub struct FakeStripeServer {
    pub addr: SocketAddr,
    listener: TcpListener,
    router: Router,
}

impl FakeStripeServer {
    /// Binds the stand-in (port 0 picks a free port) with the given initial behaviour.
    pub async fn bind(addr: &str, config: FakeConfig) -> anyhow::Result<Self> {
        Self::bind_public(addr, None, config).await
    }

    /// As [`Self::bind`], with the links' hosted pages (`url`, `/b/{id}`) under `public_url`
    /// instead of the bound address: behind a compose network the stand-in listens on
    /// `0.0.0.0`, which is no address a payer's browser can open.
    pub async fn bind_public(
        addr: &str,
        public_url: Option<&str>,
        config: FakeConfig,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("failed to bind the Stripe stand-in to {addr}"))?;
        let addr = listener.local_addr()?;
        let fake = Arc::new(FakeStripe {
            state: Mutex::new(state::State {
                config,
                ..Default::default()
            }),
            base_url: match public_url {
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => format!("http://{addr}"),
            },
        });
        Ok(Self {
            addr,
            listener,
            router: router(fake),
        })
    }

    /// The base URL to give paylink as `PAYLINK__STRIPE__API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub async fn run(self) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router).await?;
        Ok(())
    }
}

fn router(fake: Arc<FakeStripe>) -> Router {
    Router::new()
        .route("/v1/products", post(api::create_product))
        .route("/v1/prices", post(api::create_price))
        .route("/v1/prices/{id}", get(api::get_price))
        .route(
            "/v1/payment_links",
            post(api::create_payment_link).get(api::list_payment_links),
        )
        .route(
            "/v1/payment_links/{id}",
            get(api::get_payment_link).post(api::update_payment_link),
        )
        .route(
            "/v1/payment_links/{id}/line_items",
            get(api::list_line_items),
        )
        .route("/v1/checkout/sessions", get(sessions::list))
        .route("/v1/checkout/sessions/{id}", get(sessions::retrieve))
        .route("/v1/events", get(events::list))
        .route(
            "/v1/webhook_endpoints",
            post(webhook_endpoints::create).get(webhook_endpoints::list),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(webhook_endpoints::retrieve)
                .post(webhook_endpoints::update)
                .delete(webhook_endpoints::delete),
        )
        .route("/_fake/config", post(control::set_config))
        .route("/_fake/stats", get(control::stats))
        .route(
            "/_fake/payment_links/{id}/complete",
            post(control::complete),
        )
        .route(
            "/_fake/payment_links/{id}/checkout_sessions",
            post(control::open_session),
        )
        .route(
            "/_fake/checkout_sessions/{id}/complete",
            post(control::complete_session),
        )
        .route(
            "/_fake/checkout_sessions/{id}/settle",
            post(control::settle),
        )
        .route("/b/{id}", get(control::hosted_page))
        .route("/b/{id}/pay", post(control::pay))
        .with_state(fake)
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_addresses_count_as_loopback() {
        for addr in [
            "127.0.0.1:12111",
            "127.0.0.1:0",
            "127.1.2.3:80",
            "[::1]:12111",
            "[::ffff:127.0.0.1]:1",
            "localhost:12111",
            "LocalHost:1",
            "127.0.0.1",
            "::1",
            "localhost",
        ] {
            assert!(is_loopback(addr), "{addr}");
        }
        for addr in [
            "0.0.0.0:12111",
            "[::]:12111",
            "10.0.0.5:12111",
            "192.168.1.2:1",
            "fake-stripe:12111",
            "localhost.example.com:1",
            "example.com:12111",
            "",
            ":12111",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(addr), "{addr}");
        }
    }
}
