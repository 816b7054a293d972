//! Stripe failures sorted by the one question a caller has: retry, and with which key?

/// Why a Stripe call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// 429 (rate limit, lock contention), 409 (a request with this key is still running) or 424.
    /// Stripe saved nothing for the key: retry later with the same key.
    #[error("Stripe asked us to retry later (HTTP {status}): {message}")]
    RetryLater {
        status: u16,
        message: String,
        /// How long Stripe asked us to wait (`Retry-After`), when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// A 5xx. Stripe saved this result against the idempotency key and will replay it for that
    /// key, so the next try must use a new key.
    #[error("Stripe failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// No answer: timeout or connection error. The request may or may not have run, so the
    /// next try must use the same key (a replay returns what the first one created).
    #[error("could not reach Stripe: {0}")]
    Unreachable(String),
    /// 401 or 403: Stripe refused paylink's API key (unknown, revoked, expired) or a
    /// restricted key lacks the permission. A setting, not the request: the same request
    /// succeeds once the key is fixed, so orders wait for that instead of failing
    /// (`crate::stripe_key`).
    #[error("Stripe refused paylink's API key (HTTP {status}): {message}")]
    KeyRefused { status: u16, message: String },
    /// Stripe refused the request (another 4xx) or answered something we cannot read.
    /// Retrying the same request cannot help.
    #[error("Stripe refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
}

impl StripeFailure {
    /// Whether trying again could succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        !matches!(self, StripeFailure::Refused { .. })
    }

    /// Whether Stripe may have done what was asked although it did not say so: a 5xx ("the
    /// outcome is unknown") or no answer at all.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            StripeFailure::Server { .. } | StripeFailure::Unreachable(_)
        )
    }

    /// Whether the next try needs a fresh idempotency key (Stripe replays saved 5xx results).
    pub(crate) fn needs_new_key(&self) -> bool {
        matches!(self, StripeFailure::Server { .. })
    }
}

impl From<super::HttpError> for StripeFailure {
    fn from(err: super::HttpError) -> Self {
        use super::HttpError;
        match err {
            HttpError::Api {
                status,
                message,
                retry_after,
                should_retry,
            } => match (should_retry, status) {
                // The key, whatever else Stripe says: fixed, the same request works.
                (_, 401 | 403) => StripeFailure::KeyRefused { status, message },
                // A 5xx whatever `Stripe-Should-Retry` says: Stripe sends `false` with most
                // 500s, meaning only that the same key would replay the 500 (its Node
                // library's `_shouldRetry` says so). The outcome is unknown: a new key, and
                // the orphan sweep for a link the hidden failure made.
                (_, 500..=599) => StripeFailure::Server { status, message },
                // Below 500 the header overrides the status, either way.
                (Some(false), _) => StripeFailure::Refused { status, message },
                (Some(true), _) | (None, 409 | 424 | 429) => StripeFailure::RetryLater {
                    status,
                    message,
                    retry_after,
                },
                (None, _) => StripeFailure::Refused { status, message },
            },
            HttpError::Timeout => StripeFailure::Unreachable("the request timed out".into()),
            HttpError::Transport(message) => StripeFailure::Unreachable(message),
            HttpError::Deserialize(message) => StripeFailure::Refused {
                status: 200,
                message: format!("unreadable response from Stripe: {message}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::HttpError;
    use super::StripeFailure;

    fn api(status: u16, should_retry: Option<bool>) -> StripeFailure {
        HttpError::Api {
            status,
            message: "m".into(),
            retry_after: Some(Duration::from_secs(3)),
            should_retry,
        }
        .into()
    }

    #[test]
    fn the_status_decides_when_stripe_says_nothing() {
        assert!(
            matches!(api(429, None), StripeFailure::RetryLater { retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert!(matches!(api(409, None), StripeFailure::RetryLater { .. }));
        assert!(matches!(api(500, None), StripeFailure::Server { .. }));
        assert!(matches!(api(400, None), StripeFailure::Refused { .. }));
        assert!(api(500, None).needs_new_key());
        assert!(!api(429, None).needs_new_key());
    }

    #[test]
    fn stripe_should_retry_overrides_the_status_below_500() {
        assert!(matches!(
            api(429, Some(false)),
            StripeFailure::Refused { .. }
        ));
        assert!(matches!(
            api(400, Some(true)),
            StripeFailure::RetryLater { .. }
        ));
        assert!(
            !api(400, Some(true)).needs_new_key(),
            "nothing was saved for the key"
        );
    }

    #[test]
    fn a_5xx_is_a_server_failure_whatever_stripe_should_retry_says() {
        for status in [500, 502, 503] {
            for should_retry in [None, Some(false), Some(true)] {
                let failure = api(status, should_retry);
                assert!(
                    matches!(failure, StripeFailure::Server { status: s, .. } if s == status),
                    "{status} {should_retry:?}"
                );
                assert!(failure.is_retryable() && failure.needs_new_key());
            }
        }
    }

    #[test]
    fn a_refused_api_key_is_its_own_failure_whatever_stripe_should_retry_says() {
        for status in [401, 403] {
            for should_retry in [None, Some(false), Some(true)] {
                let failure = api(status, should_retry);
                assert!(
                    matches!(failure, StripeFailure::KeyRefused { status: s, .. } if s == status),
                    "{status} {should_retry:?}"
                );
                assert!(failure.is_retryable() && !failure.needs_new_key());
            }
        }
    }

    #[test]
    fn no_answer_means_retry_with_the_same_key() {
        let timeout: StripeFailure = HttpError::Timeout.into();
        assert!(timeout.is_retryable() && !timeout.needs_new_key());
        let refused: StripeFailure = HttpError::Transport("connection refused".into()).into();
        assert!(refused.is_retryable() && !refused.needs_new_key());
    }
}
