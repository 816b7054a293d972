//! paylink's own HTTP client for async-stripe's request builders: it keeps connections alive
//! (async-stripe's bundled client opens one per request) and, unlike that client, hands back the
//! response headers that say how to retry: `Retry-After` and `Stripe-Should-Retry`.

use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use stripe::RequestStrategy;
use stripe_client_core::{CustomizedStripeRequest, StripeClient, StripeClientErr, StripeMethod};

/// A failed Stripe request, with what the response said about retrying.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("Stripe answered HTTP {status}: {message}")]
    Api {
        status: u16,
        message: String,
        /// `Retry-After`, when Stripe sent one.
        retry_after: Option<Duration>,
        /// `Stripe-Should-Retry`, when Stripe sent one; it overrides the status.
        should_retry: Option<bool>,
    },
    #[error("the request timed out")]
    Timeout,
    #[error("{0}")]
    Transport(String),
    #[error("unreadable response from Stripe: {0}")]
    Deserialize(String),
}

impl StripeClientErr for HttpError {
    fn deserialize_err(msg: impl std::fmt::Display) -> Self {
        HttpError::Deserialize(msg.to_string())
    }
}

/// Sends async-stripe's requests with reqwest (rustls), one pooled client per process.
#[derive(Clone)]
pub struct StripeHttp {
    client: reqwest::Client,
    base: String,
    secret: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for StripeHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeHttp")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl StripeHttp {
    /// `base` is `https://api.stripe.com/` or the stand-in's address (trailing slash).
    pub fn new(base: &str, secret: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("paylink/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| anyhow::anyhow!("failed to build the Stripe HTTP client: {e}"))?;
        let mut base = base.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            client,
            base,
            secret,
            timeout,
        })
    }

    /// Whether the key is a live one: the mode of everything Stripe answers it with.
    pub fn live(&self) -> bool {
        super::key_is_live(self.secret.expose_secret())
    }

    async fn send(&self, req: CustomizedStripeRequest) -> Result<Bytes, HttpError> {
        let (request, config) = req.into_pieces();
        let method = match request.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .request(method, &request.path, request.query.as_deref())
            .timeout(config.timeout.unwrap_or(self.timeout));
        if let Some(RequestStrategy::Idempotent(key)) = &config.request_strategy {
            builder = builder.header("idempotency-key", key.as_str());
        }
        if let Some(body) = request.body {
            builder = builder
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        self.answer(builder).await
    }

    /// `GET /v1{path}?{query}`, read as plain JSON. For what paylink reads tolerantly (events,
    /// Checkout Sessions, link listings): Stripe's schema makes most of their fields nullable,
    /// and one field of an unexpected shape must not make the whole object unreadable.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, HttpError> {
        let query = form_encode(query);
        let builder = self
            .request(
                reqwest::Method::GET,
                path,
                (!query.is_empty()).then_some(query.as_str()),
            )
            .timeout(self.timeout);
        let body = self.answer(builder).await?;
        serde_json::from_slice(&body).map_err(|e| HttpError::Deserialize(e.to_string()))
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut url = format!("{}v1{}", self.base, path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        self.client
            .request(method, url)
            .bearer_auth(self.secret.expose_secret())
            .header("stripe-version", super::api_version())
    }

    async fn answer(&self, builder: reqwest::RequestBuilder) -> Result<Bytes, HttpError> {
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(300.0)));
        let should_retry = headers
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<bool>().ok());
        let body = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        Err(HttpError::Api {
            status,
            message,
            retry_after,
            should_retry,
        })
    }
}

/// `a=1&b=2`, form-encoded as Stripe expects.
fn form_encode(pairs: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// reqwest's message names the whole URL, credentials in `stripe.api_base` included: it is
/// shown redacted.
fn transport(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    let url = e.url().map(|url| crate::store::redact_url(url.as_str()));
    let e = e.without_url();
    HttpError::Transport(match url {
        Some(url) => format!("{e} for url ({url})"),
        None => format!("{e}"),
    })
}

impl StripeClient for StripeHttp {
    type Err = HttpError;

    fn execute(
        &self,
        req: CustomizedStripeRequest,
    ) -> impl std::future::Future<Output = Result<Bytes, Self::Err>> + Send {
        self.send(req)
    }
}
