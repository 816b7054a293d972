//! Brute-force limit on the admin token (docs/security.md, "Admin token and throttle"): per
//! client address, failed logins and failed bearer checks are counted in a one-minute window
//! that opens at the first failure; once `limit` have failed, every further *wrong* credential
//! from that address is refused with 429 and `Retry-After` until the window closes. The right
//! token always passes, throttled or not (`auth::refuse` is only reached by a wrong one): behind
//! a proxy many clients share one address, and one client's guesses must not lock the host
//! application or the operator out. The count lives in the process (each intake process counts
//! its own).
//!
//! An IPv6 client is counted by its /64 prefix, not its full address: one host is routinely
//! given a whole /64 and can rotate through its 2^64 addresses at will, so counting addresses
//! would give it a fresh window per guess.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Addresses remembered at most; past it, windows that have closed are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    windows: Mutex<HashMap<ClientKey, Window>>,
}

/// What the throttle counts failures by: an IPv4 address, or an IPv6 address's /64 prefix
/// (an IPv4 address reaching a dual-stack listener as `::ffff:a.b.c.d` counts as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V6(v6) => Self(IpAddr::V6(Ipv6Addr::from_bits(
                v6.to_bits() & !u128::from(u64::MAX),
            ))),
            v4 => Self(v4),
        }
    }
}

impl std::fmt::Display for ClientKey {
    /// `192.0.2.1`, or `2001:db8:1:2::/64`: what the log line names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    failures: u32,
}

/// Refused: this many whole seconds are left of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
}

impl Throttle {
    /// `limit` failures a minute per address; 0 turns the limit off.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Window>> {
        // A panic while holding the lock leaves only counters behind: keep using them.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a wrong credential from `addr` is still answered 401 (`Ok`) or, the address
    /// having failed `limit` times this minute, 429 (`Err`).
    pub fn check(&self, addr: IpAddr) -> Result<(), Throttled> {
        if self.limit == 0 {
            return Ok(());
        }
        let windows = self.windows();
        match windows.get(&ClientKey::of(addr)) {
            Some(w) if w.failures >= self.limit && w.opened.elapsed() < WINDOW => Err(Throttled {
                retry_after_secs: (WINDOW - w.opened.elapsed()).as_secs().max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failed credential from `addr`; the failure that reaches the limit is logged.
    pub fn failed(&self, addr: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let mut windows = self.windows();
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| w.opened.elapsed() < WINDOW);
        }
        let now = Instant::now();
        let key = ClientKey::of(addr);
        let window = windows.entry(key).or_insert(Window {
            opened: now,
            failures: 0,
        });
        if window.opened.elapsed() >= WINDOW {
            *window = Window {
                opened: now,
                failures: 0,
            };
        }
        window.failures += 1;
        if window.failures == self.limit {
            metrics::counter!("paylink_auth_throttled_total").increment(1);
            tracing::warn!(
                client = %key,
                failures = window.failures,
                "too many failed admin-token attempts; refusing further wrong tokens from this address for the rest of the minute (the right token still passes)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_th_failure_closes_the_window_for_that_address_only() {
        let throttle = Throttle::new(3);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..2 {
            throttle.failed(a);
            assert_eq!(throttle.check(a), Ok(()));
        }
        throttle.failed(a);
        let refused = throttle.check(a).expect_err("third failure throttles");
        assert!((59..=60).contains(&refused.retry_after_secs), "{refused:?}");
        assert_eq!(throttle.check(b), Ok(()), "another address is not affected");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let throttle = Throttle::new(3);
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        // Three failures from three addresses of one /64: one window, now closed.
        for host in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::dead:beef",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
        ] {
            throttle.failed(ip(host));
        }
        for rotated in ["2001:db8:1:2::1", "2001:db8:1:2:1234:5678:9abc:def0"] {
            assert!(
                throttle.check(ip(rotated)).is_err(),
                "{rotated} is in the throttled /64"
            );
        }
        assert_eq!(
            throttle.check(ip("2001:db8:1:3::1")),
            Ok(()),
            "the next /64 is not"
        );
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn an_ipv4_address_on_a_dual_stack_listener_is_counted_as_itself() {
        let throttle = Throttle::new(3);
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        for _ in 0..3 {
            throttle.failed(ip("::ffff:192.0.2.1"));
        }
        assert!(throttle.check(ip("192.0.2.1")).is_err());
        assert_eq!(
            throttle.check(ip("::ffff:192.0.2.2")),
            Ok(()),
            "IPv4 clients are not lumped into one IPv6 /64"
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:192.0.2.1")).to_string(),
            "192.0.2.1"
        );
    }

    #[test]
    fn a_limit_of_zero_never_throttles() {
        let throttle = Throttle::new(0);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..100 {
            throttle.failed(a);
        }
        assert_eq!(throttle.check(a), Ok(()));
    }
}
