//! What every job (and the intake's pay-now path) needs at hand.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::jobs::RunningJobs;
use crate::policy::Policy;
use crate::stripe::StripeApi;
use crate::stripe_key::KeyPause;
pub use crate::views::pay_url;

/// How hard a mint tries before it gives up and leaves the order for an operator.
#[derive(Clone, Debug)]
pub struct RetrySettings {
    /// Stripe requests per mint job before the order is marked failed.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetrySettings {
    /// Exponential backoff with full jitter: a random wait in [base·2ⁿ/2, base·2ⁿ], capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        let half = exp / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// The pause before try number `attempt` (counted from 0): none before the first, then
    /// [`Self::backoff`]. Every retry loop of the jobs starts its tries with this.
    pub(crate) async fn pause_before(&self, attempt: u32) {
        if attempt > 0 {
            tokio::time::sleep(self.backoff(attempt - 1)).await;
        }
    }
}

/// Shared state of the engine: database, Stripe, policy and where pay URLs live.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub stripe: StripeApi,
    pub policy: Policy,
    /// Base of pay URLs and of the thank-you page Stripe redirects to.
    pub public_base_url: String,
    pub retry: RetrySettings,
    /// Jobs this process is running now (for a clean stop, and the tests' drain).
    pub running: RunningJobs,
    /// Whether Stripe refuses paylink's API key, as this process last saw (crate::stripe_key).
    pub key_pause: KeyPause,
    /// Mail to payers; `None` when `email.smtp_url` is unset (sending is off).
    pub mail: Option<std::sync::Arc<crate::mailer::Mailer>>,
}

impl JobContext {
    /// The payer's stable URL for an order.
    pub fn pay_url(&self, pay_token: &str) -> String {
        pay_url(&self.public_base_url, pay_token)
    }
}
