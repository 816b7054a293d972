//! The stand-in seen from outside, over HTTP as Stripe would be: the one client the demo, the
//! tests and the benchmarks share to configure it, pay through it and read what it holds.
//! It is not paylink's Stripe client: it talks to the stand-in's own controls (`/_fake/…`) and
//! reads its objects back as plain JSON.

use anyhow::Context as _;
use serde_json::{Value, json};

/// A client of a running stand-in at `base` (`http://127.0.0.1:PORT/`).
#[derive(Clone, Debug)]
pub struct FakeStripeClient {
    http: reqwest::Client,
    base: String,
    /// The key reads are made with.
    key: String,
}

/// How often a read meeting a 429 or an injected 500 is tried in all.
const READ_TRIES: u64 = 20;

/// The key the client reads objects with unless told another (any `sk_test_…` is accepted
/// while `api_keys` is unset).
const INSPECTOR_KEY: &str = "sk_test_fake_stripe_inspector";

impl FakeStripeClient {
    pub fn new(base: &str) -> Self {
        let mut base = base.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Self {
            http: reqwest::Client::new(),
            base,
            key: INSPECTOR_KEY.to_owned(),
        }
    }

    /// The same client reading with `key`: one of `api_keys` once the stand-in is told to take
    /// only those.
    pub fn with_key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.key);
        self
    }

    /// `POST /_fake/config` with `api_keys`: only these keys are accepted from now on (any
    /// test key again when empty). Reads by this client then need [`Self::with_key`].
    pub async fn set_api_keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        self.config(&json!({"api_keys": keys})).await
    }

    /// `POST /_fake/config` with the fields to change.
    pub async fn config(&self, patch: &Value) -> anyhow::Result<()> {
        self.control("config", patch).await.map(|_| ())
    }

    /// `GET /_fake/stats`.
    pub async fn stats(&self) -> anyhow::Result<Value> {
        self.read(&format!("{}_fake/stats", self.base)).await
    }

    /// `GET /v1/{path}`, as Stripe's API answers it.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.read(&format!("{}v1/{path}", self.base)).await
    }

    /// Every Payment Link the stand-in holds, newest first (paging through the list).
    pub async fn links(&self) -> anyhow::Result<Vec<Value>> {
        let mut links = Vec::new();
        let mut path = "payment_links?limit=100".to_owned();
        loop {
            let page = self.get(&path).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let last = data
                .last()
                .and_then(|l| l["id"].as_str())
                .map(str::to_owned);
            links.extend(data);
            match (page["has_more"].as_bool(), last) {
                (Some(true), Some(last)) => {
                    path = format!("payment_links?limit=100&starting_after={last}");
                }
                _ => return Ok(links),
            }
        }
    }

    /// The Payment Links whose `metadata.order_id` is `order_id`.
    pub async fn links_for(&self, order_id: &str) -> anyhow::Result<Vec<Value>> {
        Ok(self
            .links()
            .await?
            .into_iter()
            .filter(|l| l["metadata"]["order_id"] == order_id)
            .collect())
    }

    /// A payer completes checkout on the link (`paid` or `unpaid`); the session's id.
    pub async fn complete(&self, link_id: &str, payment_status: &str) -> anyhow::Result<String> {
        let body = json!({"payment_status": payment_status});
        let done = self
            .control(&format!("payment_links/{link_id}/complete"), &body)
            .await?;
        session_id(&done)
    }

    /// A payer opens checkout on the link now, to pay later with [`Self::complete_open`].
    pub async fn open_session(&self, link_id: &str) -> anyhow::Result<String> {
        let opened = self
            .control(
                &format!("payment_links/{link_id}/checkout_sessions"),
                &json!({}),
            )
            .await?;
        session_id(&opened)
    }

    /// The payer pays the open session (even if its link was switched off meanwhile).
    pub async fn complete_open(&self, session_id: &str) -> anyhow::Result<()> {
        self.control(
            &format!("checkout_sessions/{session_id}/complete"),
            &json!({"payment_status": "paid"}),
        )
        .await
        .map(|_| ())
    }

    /// A delayed payment settles: `succeeded` or `failed`.
    pub async fn settle(&self, session_id: &str, outcome: &str) -> anyhow::Result<()> {
        self.control(
            &format!("checkout_sessions/{session_id}/settle"),
            &json!({"outcome": outcome}),
        )
        .await
        .map(|_| ())
    }

    async fn control(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}_fake/{path}", self.base))
            .json(body)
            .send()
            .await
            .with_context(|| format!("the stand-in's /_fake/{path} did not answer"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "the stand-in refused /_fake/{path} ({status}): {answer}"
        );
        Ok(answer)
    }

    /// Reads are tried again on a 429 or 5xx: the stand-in's limits and injected failures are
    /// meant for paylink's traffic, not for the one inspecting what it did.
    async fn read(&self, url: &str) -> anyhow::Result<Value> {
        let mut tries = 0;
        loop {
            tries += 1;
            let response = self
                .http
                .get(url)
                .bearer_auth(&self.key)
                .send()
                .await
                .with_context(|| format!("the stand-in did not answer {url}"))?;
            let status = response.status();
            if (status.as_u16() == 429 || status.is_server_error()) && tries < READ_TRIES {
                tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
                continue;
            }
            return response
                .error_for_status()
                .with_context(|| format!("the stand-in refused {url}"))?
                .json()
                .await
                .with_context(|| format!("the stand-in's {url} is not JSON"));
        }
    }
}

fn session_id(answer: &Value) -> anyhow::Result<String> {
    answer["checkout_session"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no checkout_session in {answer}"))
}
