//! The stand-in's memory: objects, saved idempotent results, counters and its configurable
//! misbehaviour (rate limits, injected 500s, latency, dropped webhooks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the stand-in misbehaves. Changed at run time through `POST /_fake/config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FakeConfig {
    /// Requests per second per endpoint before answering 429, like Stripe; 0 means no limit.
    pub rate_limit_per_sec: u32,
    /// Requests per second over every endpoint together before answering 429 (Stripe's
    /// account-wide limit: 25/s in test mode, 100/s live); 0 means no limit. A request counts
    /// against both this and its endpoint's limit.
    pub account_rate_limit_per_sec: u32,
    /// Share of API requests (0.0–1.0) answered 500 without doing anything.
    pub fail_rate: f64,
    /// The next N API requests answer 500 without doing anything (deterministic, for tests).
    pub fail_next: u32,
    /// Share of API requests (0.0–1.0) that execute (the object exists) and then answer 500:
    /// the case where retrying with a new key would make a second object.
    pub fail_after_rate: f64,
    /// The next N API requests execute and then answer 500 (deterministic, for tests).
    pub fail_after_next: u32,
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
    /// Share of generated events (0.0–1.0) never delivered (still listed by `GET /v1/events`):
    /// what a receiver that relies on webhooks alone would miss.
    pub drop_webhook_rate: f64,
    /// How long a saved idempotent result lives after the key's first use; a key used again
    /// later runs its request again, as Stripe prunes keys after about 24 hours.
    pub idempotency_ttl_secs: u64,
    /// The API keys accepted, as Stripe accepts only an account's own keys: any other gets
    /// Stripe's 401 with the key masked. Empty: any test key (`sk_test_…`, `rk_test_…`). Live
    /// keys (`sk_live_…`, `rk_live_…`) are refused either way.
    pub api_keys: Vec<String>,
    /// Restricted keys (`rk_test_…`) and the permissions each was given, as Stripe names them
    /// in its 403 (`rak_payment_link_write`, `rak_event_read`, …; write includes read). A
    /// request outside its key's set is Stripe's 403 naming the permission that would allow
    /// it. A key not listed here may do everything.
    pub key_permissions: std::collections::BTreeMap<String, Vec<String>>,
    /// Payment Links are created (and stored) with `customer_creation: if_required`, Stripe's
    /// default, whatever the request asked: a link that differs from what was asked, for a
    /// check that reads links back to catch.
    pub drop_customer_creation: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_sec: 25,
            account_rate_limit_per_sec: 25,
            fail_rate: 0.0,
            fail_next: 0,
            fail_after_rate: 0.0,
            fail_after_next: 0,
            latency_ms: 0,
            slow_rate: 0.0,
            slow_ms: 5000,
            webhook_url: None,
            webhook_secret: None,
            drop_webhook_rate: 0.0,
            idempotency_ttl_secs: 86_400,
            api_keys: Vec::new(),
            key_permissions: std::collections::BTreeMap::new(),
            drop_customer_creation: false,
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
    /// Checkout Sessions opened, whatever became of them.
    pub checkout_sessions: u64,
    /// Events generated, delivered or not (all listed by `GET /v1/events`).
    pub events_generated: u64,
    pub events_delivered: u64,
    /// Events never delivered on purpose (`deliver: false` or `drop_webhook_rate`).
    pub events_dropped: u64,
    /// Delivery attempts the webhook endpoint did not answer with 2xx.
    pub event_delivery_failures: u64,
    /// Deliveries to endpoints registered through `/v1/webhook_endpoints` that got a 2xx, and
    /// attempts that did not (the configured `webhook_url` is counted above).
    pub endpoint_deliveries: u64,
    pub endpoint_delivery_failures: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LinkCounts {
    pub total: u64,
    pub active: u64,
}

/// The first result for an idempotency key, replayed for every later request with it until
/// `idempotency_ttl_secs` after the key's first use. It is saved only once the first request
/// has answered: until then the key is in flight (`State::in_flight`) and a retry gets 409.
pub struct Saved {
    pub fingerprint: String,
    pub status: u16,
    pub body: Value,
    /// When the key was first used.
    pub at: Instant,
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
    /// Checkout Sessions by id (each names its link in `payment_link`).
    pub sessions: HashMap<String, Value>,
    /// Session ids in creation order (lists are newest first).
    pub session_order: Vec<String>,
    /// Webhook endpoints by id, as reads return them (without `secret`).
    pub webhook_endpoints: HashMap<String, Value>,
    /// Each endpoint's signing secret, by endpoint id: what its deliveries are signed with.
    pub webhook_endpoint_secrets: HashMap<String, String>,
    /// Webhook endpoint ids in creation order (lists are newest first).
    pub webhook_endpoint_order: Vec<String>,
    /// Every event generated, delivered or not, in creation order.
    pub events: Vec<Value>,
    pub idempotency: HashMap<String, Saved>,
    /// Idempotency keys whose first request has not answered yet.
    pub in_flight: HashSet<String>,
    pub stats: Stats,
    /// Per endpoint: the current one-second window and the requests seen in it.
    pub windows: HashMap<&'static str, Window>,
    /// The same over every endpoint, for the account-wide limit.
    pub account_window: Window,
}

/// A one-second window: which second (since the epoch) and the requests counted in it.
pub type Window = (u64, u32);

/// Whether `window` has room for one more request this `second` under `limit` (0 = no limit),
/// starting a new window when the second has changed.
fn has_room(window: &mut Window, limit: u32, second: u64) -> bool {
    if window.0 != second {
        *window = (second, 0);
    }
    limit == 0 || window.1 < limit
}

impl State {
    /// Counts a request against its endpoint's and the account's per-second limits; false
    /// (and counted against neither) when over either.
    pub fn admit(&mut self, endpoint: &'static str) -> bool {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let endpoint_window = self.windows.entry(endpoint).or_insert((second, 0));
        if !has_room(endpoint_window, self.config.rate_limit_per_sec, second)
            || !has_room(
                &mut self.account_window,
                self.config.account_rate_limit_per_sec,
                second,
            )
        {
            return false;
        }
        endpoint_window.1 += 1;
        self.account_window.1 += 1;
        true
    }

    /// Whether this request is one of the injected failures that answer 500 before running.
    pub fn inject_failure(&mut self) -> bool {
        let fail = take_one(&mut self.config.fail_next, self.config.fail_rate);
        self.stats.injected_failures += u64::from(fail);
        fail
    }

    /// Whether this request, having run, is one of the injected failures that answer 500.
    pub fn inject_failure_after(&mut self) -> bool {
        let fail = take_one(
            &mut self.config.fail_after_next,
            self.config.fail_after_rate,
        );
        self.stats.injected_failures += u64::from(fail);
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

/// One of the next `count` (counted down), or else one in `rate`.
fn take_one(count: &mut u32, rate: f64) -> bool {
    if *count > 0 {
        *count -= 1;
        true
    } else {
        rate > 0.0 && rand::random::<f64>() < rate
    }
}
