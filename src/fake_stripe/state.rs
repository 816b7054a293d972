//! The stand-in's memory: objects, saved idempotent results, counters and its configurable
//! misbehaviour (rate limit, injected 500s, latency).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the stand-in misbehaves. Changed at run time through `POST /_fake/config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FakeConfig {
    /// Requests per second per endpoint before answering 429, like Stripe; 0 means no limit.
    pub rate_limit_per_sec: u32,
    /// Share of API requests (0.0–1.0) answered 500 without doing anything.
    pub fail_rate: f64,
    /// The next N API requests answer 500 without doing anything (deterministic, for tests).
    pub fail_next: u32,
    /// Added to every API response after the request has executed.
    pub latency_ms: u64,
    /// Share of API requests (0.0–1.0) that execute and then answer only after `slow_ms` more:
    /// a client with a shorter timeout gives up on a request that did happen.
    pub slow_rate: f64,
    pub slow_ms: u64,
    /// Where signed events are delivered.
    pub webhook_url: Option<String>,
    /// The `whsec_…` secret events are signed with.
    pub webhook_secret: Option<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_sec: 25,
            fail_rate: 0.0,
            fail_next: 0,
            latency_ms: 0,
            slow_rate: 0.0,
            slow_ms: 5000,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

/// `GET /_fake/stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub requests: BTreeMap<String, u64>,
    pub rate_limited: u64,
    pub idempotent_replays: u64,
    pub injected_failures: u64,
    pub payment_links: LinkCounts,
    pub events_delivered: u64,
    /// Delivery attempts the webhook endpoint did not answer with 2xx.
    pub event_delivery_failures: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LinkCounts {
    pub total: u64,
    pub active: u64,
}

/// The first result for an idempotency key, replayed for every later request with it. Requests
/// run one at a time under the state's lock, so a concurrent retry with the same key waits for
/// the first and then gets its replay.
pub struct Saved {
    pub fingerprint: String,
    pub status: u16,
    pub body: Value,
}

/// A Payment Link with what the stand-in keeps beside Stripe's object.
pub struct LinkRecord {
    pub object: Value,
    pub line_items: Vec<Value>,
    pub product_name: String,
    pub amount: i64,
}

#[derive(Default)]
pub struct State {
    pub config: FakeConfig,
    pub products: HashMap<String, Value>,
    pub prices: HashMap<String, Value>,
    pub links: HashMap<String, LinkRecord>,
    /// Link ids in creation order (lists are newest first).
    pub link_order: Vec<String>,
    /// Checkout Sessions by id, with the link they were completed on.
    pub sessions: HashMap<String, Value>,
    pub idempotency: HashMap<String, Saved>,
    pub stats: Stats,
    /// Per endpoint: the current one-second window and the requests seen in it.
    pub windows: HashMap<&'static str, (u64, u32)>,
}

impl State {
    /// Counts a request against its endpoint's per-second limit; false when over it.
    pub fn admit(&mut self, endpoint: &'static str) -> bool {
        let limit = self.config.rate_limit_per_sec;
        if limit == 0 {
            return true;
        }
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let window = self.windows.entry(endpoint).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 >= limit {
            return false;
        }
        window.1 += 1;
        true
    }

    /// Whether this request is one of the injected failures.
    pub fn inject_failure(&mut self) -> bool {
        let fail = if self.config.fail_next > 0 {
            self.config.fail_next -= 1;
            true
        } else {
            self.config.fail_rate > 0.0 && rand::random::<f64>() < self.config.fail_rate
        };
        if fail {
            self.stats.injected_failures += 1;
        }
        fail
    }

    pub fn refresh_link_counts(&mut self) {
        self.stats.payment_links = LinkCounts {
            total: self.links.len() as u64,
            active: self
                .links
                .values()
                .filter(|l| l.object["active"] == Value::Bool(true))
                .count() as u64,
        };
    }
}
