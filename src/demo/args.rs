//! The `demo` and `fake-stripe` commands' arguments and what they run: compiled with the
//! `demo` feature (on by default) only; `src/without_demo.rs` stands in for them without it.

use fake_stripe::{FakeConfig, FakeStripeServer};

use crate::announce::announce;
use crate::config::ConfigError;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Orders in the demo's blast.
    #[arg(long, default_value_t = 300)]
    pub orders: usize,
    /// Share of Stripe requests the stand-in fails with a 500 (0 to below 1).
    #[arg(long, default_value_t = 0.0)]
    pub stripe_failure_rate: f64,
    /// Share of Stripe's webhook deliveries that never arrive (0 to 1): the payments are
    /// still recorded, by the payer's return page or the sweep of Stripe's events.
    #[arg(long, default_value_t = 0.0)]
    pub drop_webhooks: f64,
    /// Keep serving after the summary, until Ctrl-C, to look around.
    #[arg(long)]
    pub keep: bool,
}

impl DemoArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            orders,
            stripe_failure_rate,
            drop_webhooks,
            keep,
        } = self;
        crate::telemetry::init("text", "error");
        super::run(super::DemoOptions {
            orders,
            stripe_failure_rate,
            drop_webhooks,
            keep,
        })
        .await
    }
}

#[derive(Debug, clap::Args)]
pub struct FakeStripeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    /// Only loopback addresses (127.0.0.0/8, ::1, localhost) unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:12111")]
    pub addr: String,
    /// Listen on a non-loopback address: only inside a private network (a compose network),
    /// never where anyone else can reach it.
    #[arg(long)]
    pub allow_remote: bool,
    /// Requests per second per endpoint before 429, like Stripe (0 = no limit).
    #[arg(long, default_value_t = 25)]
    pub rate_limit_per_sec: u32,
    /// Requests per second over all endpoints before 429, like Stripe in test mode (0 = no limit).
    #[arg(long, default_value_t = 25)]
    pub account_rate_limit_per_sec: u32,
    /// Where to deliver signed events (e.g. http://127.0.0.1:8080/webhooks/stripe).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// The base of the links' hosted pages (their `url`) instead of the listening address,
    /// e.g. http://fake-stripe:12111 under docker compose, so 0.0.0.0 never reaches a link.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The `whsec_…` secret events are signed with (paylink's PAYLINK__STRIPE__WEBHOOK_SECRETS).
    #[arg(long, env = "PAYLINK_FAKE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
}

impl FakeStripeArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            addr,
            allow_remote,
            rate_limit_per_sec,
            account_rate_limit_per_sec,
            webhook_url,
            public_url,
            webhook_secret,
        } = self;
        if let Some(url) = public_url.as_deref()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "--public-url must be an http(s) URL such as http://fake-stripe:12111, got {url:?}"
            ))
            .into());
        }
        if !allow_remote && !fake_stripe::is_loopback(&addr) {
            return Err(ConfigError(format!(
                "--addr {addr} is not a loopback address (127.0.0.0/8, ::1, localhost). The \
             Stripe stand-in must not be reachable from a network: its controls \
             (/_fake/...) need no credentials, and anyone who reaches it can pay any link \
             (sending paylink signed webhooks that mark orders paid) and read the pay URLs \
             and payer data it holds. Pass --allow-remote only inside a private network \
             such as docker compose's."
            ))
            .into());
        }
        crate::telemetry::init("text", "info");
        let config = FakeConfig {
            rate_limit_per_sec,
            account_rate_limit_per_sec,
            webhook_url,
            webhook_secret,
            ..FakeConfig::default()
        };
        let server = FakeStripeServer::bind_public(&addr, public_url.as_deref(), config).await?;
        announce(&format!("fake-stripe listening on {}", server.base_url()));
        server.run().await
    }
}
