//! A receiver of paylink's outbound webhooks for the benchmarks: an HTTP server on a free local
//! port that answers 204 at once and notes, for each delivery, its `webhook-id`, its event
//! type, when it came and how long after the event's `timestamp`. It measures; it does not
//! verify signatures (`paylink demo`'s receiver does).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One delivery as it arrived.
pub struct Delivery {
    pub webhook_id: String,
    pub event_type: String,
    pub at: Instant,
    /// The event's `timestamp`: when paylink wrote it (for `order.link_ready`, the mint).
    pub event_at: chrono::DateTime<chrono::Utc>,
    /// Arrival minus the event's `timestamp` (which has millisecond precision).
    pub lag_ms: f64,
}

pub struct Receiver {
    pub url: String,
    pub deliveries: Arc<Mutex<Vec<Delivery>>>,
}

#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    timestamp: chrono::DateTime<chrono::Utc>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(deliver))
            .with_state(deliveries.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self { url, deliveries })
    }

    /// Registers this receiver for every event type with the intake at `base_url`.
    pub async fn register(&self, base_url: &str, admin_token: &str) -> anyhow::Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{base_url}/v1/webhook_endpoints"))
            .bearer_auth(admin_token)
            .json(&serde_json::json!({"url": self.url}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "registering the endpoint answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.deliveries.lock().map(|d| d.len()).unwrap_or(0)
    }
}

async fn deliver(
    State(deliveries): State<Arc<Mutex<Vec<Delivery>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let now = chrono::Utc::now();
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let delivery = Delivery {
        webhook_id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        event_type: event.kind,
        at,
        event_at: event.timestamp,
        lag_ms: (now - event.timestamp).num_microseconds().unwrap_or(0) as f64 / 1000.0,
    };
    if let Ok(mut d) = deliveries.lock() {
        d.push(delivery);
    }
    StatusCode::NO_CONTENT
}
