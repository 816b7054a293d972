//! The demo's own receiver of paylink's webhooks, standing in for the host application: an
//! HTTP server on a free local port, registered with `POST /v1/webhook_endpoints` for every
//! event type. It checks each delivery's Standard Webhooks signature as a receiver must
//! (`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the key the
//! base64 after `whsec_`), answers 400 to one that does not verify and 204 otherwise, and keeps
//! every delivery for the promises.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::promises::Announcement;

/// How far a delivery's `webhook-timestamp` may be from now, as the Standard Webhooks libraries
/// allow.
const TOLERANCE_SECS: u64 = 300;

/// A running receiver; its server stops when this is dropped.
pub struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Inbox {
    /// The endpoint's secret (`whsec_…`), known once the endpoint is registered.
    secret: OnceLock<String>,
    received: Mutex<Vec<Announcement>>,
}

impl Receiver {
    /// Starts the server on 127.0.0.1, on a port of the system's choosing.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("no free local port for the demo's webhook receiver")?;
        let addr: SocketAddr = listener.local_addr()?;
        let inbox = Arc::new(Inbox::default());
        let router = axum::Router::new()
            .route("/webhooks/paylink", axum::routing::post(deliver))
            .with_state(inbox.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("paylink demo: the webhook receiver stopped: {e}");
            }
        });
        Ok(Self {
            url: format!("http://{addr}/webhooks/paylink"),
            inbox,
            server,
        })
    }

    /// The secret paylink signs with, from the answer that registered the endpoint.
    pub fn set_secret(&self, secret: &str) -> anyhow::Result<()> {
        key_of(secret).context("the endpoint's secret is not whsec_ and base64")?;
        self.inbox
            .secret
            .set(secret.to_owned())
            .map_err(|_| anyhow::anyhow!("the receiver already has a secret"))
    }

    /// Every delivery so far, in the order they came.
    pub fn received(&self) -> Vec<Announcement> {
        self.inbox
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until each of `order_ids` has a verified `order.paid`, or `within` has passed;
    /// true when they all came.
    pub async fn wait_for_paid(&self, order_ids: &[String], within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            let all = order_ids.iter().all(|id| {
                received.iter().any(|a| {
                    a.verified && a.event_type == "order.paid" && a.subject.as_deref() == Some(id)
                })
            });
            if all {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One delivery: recorded whether or not it verifies; 204 if it does, 400 if not.
async fn deliver(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = inbox.secret.get().is_some_and(|secret| {
        verify(secret, &headers, &body, chrono::Utc::now().timestamp()).is_ok()
    });
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let announcement = Announcement {
        webhook_id: header(&headers, "webhook-id")
            .unwrap_or_default()
            .to_owned(),
        event_type: event["type"].as_str().unwrap_or_default().to_owned(),
        subject: event["data"]["id"].as_str().map(str::to_owned),
        verified,
    };
    inbox
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(announcement);
    if verified {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The HMAC key of a `whsec_<base64>` secret.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()
}

/// Checks a delivery as the Standard Webhooks spec says, at `now` (Unix seconds): the
/// timestamp within [`TOLERANCE_SECS`], and any one `v1,` signature of the header matching.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), &'static str> {
    let key = key_of(secret).ok_or("the secret is not whsec_ and base64")?;
    let id = header(headers, "webhook-id").ok_or("no webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp").ok_or("no webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature").ok_or("no webhook-signature")?;
    let at: i64 = timestamp
        .parse()
        .map_err(|_| "webhook-timestamp is not an integer")?;
    if now.abs_diff(at) > TOLERANCE_SECS {
        return Err("webhook-timestamp too far from now");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| "unusable key")?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let matches = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        // `verify_slice` compares in constant time; clone so each try starts from the same state.
        .any(|signature| mac.clone().verify_slice(&signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err("no signature matches")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference implementation.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const AT: i64 = 1649367553;
    const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn headers(id: &str, at: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", at.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    #[test]
    fn the_standard_s_example_verifies() {
        let ok = headers(ID, AT, SIGNATURE);
        assert_eq!(verify(SECRET, &ok, BODY.as_bytes(), AT), Ok(()));
        let rotated = headers(ID, AT, &format!("v1,AAAA {SIGNATURE}"));
        assert_eq!(verify(SECRET, &rotated, BODY.as_bytes(), AT + 10), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let ok = headers(ID, AT, SIGNATURE);
        assert!(verify(SECRET, &ok, b"{}", AT).is_err(), "another body");
        assert!(
            verify(SECRET, &ok, BODY.as_bytes(), AT + 301).is_err(),
            "stale"
        );
        let other_id = headers("msg_other", AT, SIGNATURE);
        assert!(verify(SECRET, &other_id, BODY.as_bytes(), AT).is_err());
        let other_key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(verify(other_key, &ok, BODY.as_bytes(), AT).is_err());
        let v2 = headers(ID, AT, &SIGNATURE.replace("v1,", "v2,"));
        assert!(verify(SECRET, &v2, BODY.as_bytes(), AT).is_err());
        assert!(verify(SECRET, &HeaderMap::new(), BODY.as_bytes(), AT).is_err());
    }

    #[tokio::test]
    async fn the_server_answers_400_to_a_bad_signature_and_keeps_both() {
        let receiver = Receiver::start().await.unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        receiver.set_secret(secret).unwrap();
        let body = r#"{"id":"msg_1","type":"order.paid","data":{"id":"ord_1"}}"#;
        let now = chrono::Utc::now().timestamp();
        let good = paylink_core::outbound::sign::signature(&[secret], "msg_1", now, body).unwrap();
        let client = reqwest::Client::new();
        let post = |signature: String| {
            client
                .post(&receiver.url)
                .header("webhook-id", "msg_1")
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
        };
        assert_eq!(post(good).await.unwrap().status(), 204);
        assert_eq!(post(SIGNATURE.into()).await.unwrap().status(), 400);
        let received = receiver.received();
        assert_eq!(received.len(), 2);
        assert!(received[0].verified && !received[1].verified);
        assert_eq!(received[0].event_type, "order.paid");
        assert_eq!(received[0].subject.as_deref(), Some("ord_1"));
    }
}
