//! A host application's webhook receiver, as a real HTTP server inside the test: it keeps every
//! delivery with the time it arrived, answers as the test scripts it (a status, or never), and
//! verifies signatures with an implementation of Standard Webhooks of its own (hmac + sha2 +
//! base64, not the crate paylink signs with).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers one delivery.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Holds the request open and never answers.
    Hang,
    /// 307 to `/hooks` on this port of 127.0.0.1 (another receiver).
    RedirectTo(u16),
}

/// One delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub json: Value,
    pub at: DateTime<Utc>,
}

impl Delivery {
    pub fn event_type(&self) -> &str {
        self.json["type"].as_str().unwrap_or_default()
    }

    /// Whether one of the `v1` signatures is the HMAC of this delivery under `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        verify(
            secret,
            &self.id,
            &self.timestamp,
            &self.body,
            &self.signature,
        )
    }
}

/// Standard Webhooks, written out: the key is the base64 after `whsec_`; the signed content is
/// `{id}.{timestamp}.{body}`; the header holds space-separated `v1,<base64 HMAC-SHA256>`.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    header.split(' ').any(|part| part == expected)
}

#[derive(Default)]
struct Inner {
    deliveries: Vec<Delivery>,
    /// Answers for the next deliveries, in order; then `otherwise`.
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
}

pub struct Receiver {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Listening on a free port, answering 204.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listening on `port` (0: any), answering 204.
    pub async fn start_on(port: u16) -> Self {
        let mut receiver = Self {
            port,
            inner: Arc::default(),
            stop: None,
        };
        receiver.listen().await;
        receiver
    }

    /// Starts listening again on the same port (after [`Self::stop`]), keeping what arrived.
    pub async fn listen(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the receiver binds");
        self.port = listener.local_addr().expect("bound").port();
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(self.inner.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the receiver serves");
        });
        self.stop = Some(stop);
    }

    /// Stops listening: connections are refused until [`Self::listen`].
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Until the listener is closed, a connection could still be accepted.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver still accepts connections");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Answers the next deliveries with `answers`, in order, then as before.
    pub fn script(&self, answers: &[Answer]) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Answers every delivery (after any script) with `answer`.
    pub fn always(&self, answer: Answer) {
        self.inner.lock().unwrap().otherwise = Some(answer);
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().deliveries.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.deliveries.push(Delivery {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            json: serde_json::from_str(&body).unwrap_or(Value::Null),
            body,
            at: Utc::now(),
        });
        inner
            .script
            .pop_front()
            .or(inner.otherwise)
            .unwrap_or(Answer::Status(204))
    };
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code)
            .expect("a status")
            .into_response(),
        Answer::RedirectTo(port) => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", format!("http://127.0.0.1:{port}/hooks"))],
        )
            .into_response(),
        Answer::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

#[test]
fn verifies_the_standard_s_own_example() {
    assert!(verify(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "1649367553",
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    ));
    assert!(!verify(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "1649367554",
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    ));
}
