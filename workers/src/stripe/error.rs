//! Stripe failures sorted by the one question a caller has: retry, and with which key?

/// Why a Stripe call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// 429 (rate limit, lock contention), 409 (a request with this key is still running) or 424.
    /// Stripe saved nothing for the key: retry later with the same key.
    #[error("Stripe asked us to retry later (HTTP {status}): {message}")]
    RetryLater { status: u16, message: String },
    /// A 5xx. Stripe saved this result against the idempotency key and will replay it for that
    /// key, so the next try must use a new key.
    #[error("Stripe failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// No answer: timeout or connection error. The request may or may not have run, so the
    /// next try must use the same key (a replay returns what the first one created).
    #[error("could not reach Stripe: {0}")]
    Unreachable(String),
    /// Stripe refused the request (another 4xx) or answered something we cannot read.
    /// Retrying the same request cannot help.
    #[error("Stripe refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
}

impl StripeFailure {
    /// Whether trying again could succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, StripeFailure::Refused { .. })
    }

    /// Whether the next try needs a fresh idempotency key (Stripe replays saved 5xx results).
    pub fn needs_new_key(&self) -> bool {
        matches!(self, StripeFailure::Server { .. })
    }
}

impl From<stripe::StripeError> for StripeFailure {
    fn from(err: stripe::StripeError) -> Self {
        match err {
            stripe::StripeError::Stripe(api, status) => {
                let message = api
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("{} error without a message", api.type_.as_str()));
                match status {
                    409 | 424 | 429 => StripeFailure::RetryLater { status, message },
                    500..=599 => StripeFailure::Server { status, message },
                    _ => StripeFailure::Refused { status, message },
                }
            }
            stripe::StripeError::Timeout => {
                StripeFailure::Unreachable("the request timed out".into())
            }
            stripe::StripeError::ClientError(message) => StripeFailure::Unreachable(message),
            stripe::StripeError::JSONDeserialize(message) => StripeFailure::Refused {
                status: 200,
                message: format!("unreadable response from Stripe: {message}"),
            },
            stripe::StripeError::ConfigError(message) => StripeFailure::Refused {
                status: 0,
                message: format!("Stripe client misconfigured: {message}"),
            },
        }
    }
}
