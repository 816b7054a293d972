//! How deliveries are made: the retry schedule, the timeout, the slots, the addresses allowed.

use std::time::Duration;

use super::endpoints::MAX_ENDPOINTS;

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
    /// holds at most `per_endpoint` and never another's reserve ([`super::slots`]).
    pub max_in_flight: usize,
    pub per_endpoint: usize,
    pub reserved_per_endpoint: usize,
    /// Whether deliveries may go to loopback, private, link-local and other non-public
    /// addresses (`outbound.allow_private_networks`; [`super::target`]).
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
/// [`MAX_ENDPOINTS`] endpoints can hold its reserve at once.
const MAX_IN_FLIGHT: usize = 64;
const RESERVED_PER_ENDPOINT: usize = 4;
const _: () = assert!(RESERVED_PER_ENDPOINT * MAX_ENDPOINTS as usize <= MAX_IN_FLIGHT);
