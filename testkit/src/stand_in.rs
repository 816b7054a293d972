//! The stand-in seen from outside, over HTTP as Stripe would be: its controls, its objects,
//! and webhooks signed as Stripe signs them.

use serde_json::Value;

use crate::WEBHOOK_SECRET;
use crate::app::TestApp;

impl TestApp {
    /// Posts a webhook delivery with the given body and `Stripe-Signature` header.
    pub async fn send_webhook_raw(&self, body: &str, signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send().await.expect("delivery sent")
    }

    /// Posts `event` signed as Stripe signs it, with the secret the stand-in uses.
    pub async fn send_stripe_webhook(&self, event: &Value) -> reqwest::Response {
        let body = event.to_string();
        let signature = sign(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
        self.send_webhook_raw(&body, Some(&signature)).await
    }

    /// A payer completes checkout on `link_id` at the stand-in; returns the session id.
    pub async fn complete_checkout(&self, link_id: &str, payment_status: &str) -> String {
        self.stripe
            .complete(link_id, payment_status)
            .await
            .expect("the stand-in completed checkout")
    }

    pub async fn settle(&self, session_id: &str, outcome: &str) {
        self.stripe
            .settle(session_id, outcome)
            .await
            .expect("the stand-in settled the session");
    }

    pub async fn fake_config(&self, config: Value) {
        self.stripe
            .config(&config)
            .await
            .unwrap_or_else(|e| panic!("stand-in accepted config {config}: {e:#}"));
    }

    pub async fn fake_stats(&self) -> Value {
        self.stripe.stats().await.expect("stats")
    }

    pub async fn stripe_get(&self, path: &str) -> Value {
        self.stripe.get(path).await.expect("the stand-in answers")
    }

    /// Every Payment Link the stand-in holds (paging through `GET /v1/payment_links`).
    pub async fn stripe_links(&self) -> Vec<Value> {
        self.stripe.links().await.expect("the stand-in lists links")
    }

    /// The Payment Links at the stand-in whose `metadata.order_id` names this order.
    pub async fn stripe_links_for(&self, order_id: &str) -> Vec<Value> {
        self.stripe
            .links_for(order_id)
            .await
            .expect("the stand-in lists links")
    }
}

/// Stripe's signature header, computed as Stripe documents it (HMAC-SHA256 over `t.body`).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    paylink::webhook_signature::sign(
        &secrecy::SecretString::from(secret),
        timestamp,
        body.as_bytes(),
    )
}
