//! Outbound webhooks: telling the host application of every change it cares about (README,
//! "Webhooks to your application").
//!
//! - [`outbox`]: writes an event, and its deliveries to each endpoint that takes it, inside the
//!   transaction of the state change that causes it.
//! - [`endpoints`]: registering, rotating, deleting and replaying endpoints (the API and the
//!   dashboard call these).
//! - [`dispatch`]: the workers' loop that sends due deliveries, signed as Standard Webhooks
//!   defines ([`sign`]), retrying on [`OutboundSettings::retry_schedule`].

pub mod dispatch;
pub mod endpoints;
pub mod outbox;
pub mod sign;

use std::time::Duration;

/// The event types, as they appear in `type` and in an endpoint's `events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A link was minted (or re-minted after a new amount): the pay URL now reaches Stripe.
    LinkReady,
    Paid,
    /// No link could be made: Stripe refused the request, or the worker gave up.
    Failed,
    Cancelled,
    /// A payment that needs a person: wrong amount, paid after cancel, paid twice.
    PaymentIssue,
    /// No order of the blast is waiting for its link any more.
    BlastCompleted,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::LinkReady,
        EventType::Paid,
        EventType::Failed,
        EventType::Cancelled,
        EventType::PaymentIssue,
        EventType::BlastCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LinkReady => "order.link_ready",
            EventType::Paid => "order.paid",
            EventType::Failed => "order.failed",
            EventType::Cancelled => "order.cancelled",
            EventType::PaymentIssue => "order.payment_issue",
            EventType::BlastCompleted => "blast.completed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How deliveries are made.
#[derive(Clone, Debug)]
pub struct OutboundSettings {
    /// The waits between tries: after the first try fails, the next comes after the first
    /// wait, and so on; when they are spent, the delivery is `failed`. Each wait gets ±10%
    /// jitter.
    pub retry_schedule: Vec<Duration>,
    /// How long an endpoint has to answer a try.
    pub timeout: Duration,
    /// Tries in flight at once in one process, and to one endpoint: a slow endpoint holds
    /// at most `per_endpoint` of them, never the others' share.
    pub max_in_flight: usize,
    pub per_endpoint: usize,
}

/// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight tries over about 28 h).
pub const DEFAULT_RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            retry_schedule: DEFAULT_RETRY_SCHEDULE_SECS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            timeout: Duration::from_secs(15),
            max_in_flight: 64,
            per_endpoint: 16,
        }
    }
}
