//! Outbound webhooks: telling the host application of every change it cares about
//! (docs/webhooks.md).
//!
//! - [`outbox`]: writes an event inside the transaction of the state change that causes it;
//!   [`fan_out`] then writes its deliveries, one per endpoint that takes it, outside it.
//! - [`endpoints`]: registering, rotating, deleting and replaying endpoints (the API and the
//!   dashboard call these); [`replays`] does a replay's work in the background.
//! - [`dispatch`]: the workers' loop that sends due deliveries, signed as Standard Webhooks
//!   defines ([`sign`]), retrying on [`OutboundSettings::retry_schedule`], sharing its slots
//!   between endpoints ([`slots`]).
//! - [`target`] and [`resolve`]: which addresses deliveries may reach (public ones, unless
//!   `outbound.allow_private_networks`), and what an operator is shown of a URL and a failure.

pub mod dispatch;
pub mod endpoints;
pub mod fan_out;
pub mod outbox;
pub mod replays;
pub mod resolve;
pub mod sign;
mod slots;
pub mod target;

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
    /// Tries in flight at once in one process, and to one endpoint. Each registered endpoint
    /// has `reserved_per_endpoint` of the process's slots to itself, so an endpoint that hangs
    /// holds at most `per_endpoint` and never another's reserve ([`slots`]).
    pub max_in_flight: usize,
    pub per_endpoint: usize,
    pub reserved_per_endpoint: usize,
    /// Whether deliveries may go to loopback, private, link-local and other non-public
    /// addresses (`outbound.allow_private_networks`; [`target`]).
    pub allow_private_networks: bool,
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
            max_in_flight: MAX_IN_FLIGHT,
            per_endpoint: 16,
            reserved_per_endpoint: RESERVED_PER_ENDPOINT,
            allow_private_networks: false,
        }
    }
}

/// Tries in flight per process, and each endpoint's reserve of them: every one of
/// [`endpoints::MAX_ENDPOINTS`] endpoints can hold its reserve at once.
const MAX_IN_FLIGHT: usize = 64;
const RESERVED_PER_ENDPOINT: usize = 4;
const _: () = assert!(RESERVED_PER_ENDPOINT * endpoints::MAX_ENDPOINTS as usize <= MAX_IN_FLIGHT);
