//! Brute-force limit on the admin token (README, "Security"): per client address, failed
//! logins and failed bearer checks are counted in a one-minute window that opens at the first
//! failure; once `limit` have failed, every credential from that address is refused with 429
//! and `Retry-After` until the window closes. The count lives in the process (each intake
//! process counts its own), which is enough to turn a 1,000/s guesser into 10 a minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

const WINDOW: Duration = Duration::from_secs(60);

/// Addresses remembered at most; past it, windows that have closed are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
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

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Window>> {
        // A panic while holding the lock leaves only counters behind: keep using them.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `addr` may present a credential now.
    pub fn check(&self, addr: IpAddr) -> Result<(), Throttled> {
        if self.limit == 0 {
            return Ok(());
        }
        let windows = self.windows();
        match windows.get(&addr) {
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
        let window = windows.entry(addr).or_insert(Window {
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
                client = %addr,
                failures = window.failures,
                "too many failed admin-token attempts; refusing this address for the rest of the minute"
            );
        }
    }
}

/// The client's address: the peer of the connection, or, behind a reverse proxy that sets it,
/// the last address in the header `http.client_ip_header` names (the one the proxy added).
pub fn client_addr(parts: &Parts, header: Option<&str>) -> Option<IpAddr> {
    if let Some(name) = header
        && let Some(addr) = from_header(&parts.headers, name)
    {
        return Some(addr);
    }
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

fn from_header(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    let last = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()?;
    last.trim().parse().ok()
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
    fn a_limit_of_zero_never_throttles() {
        let throttle = Throttle::new(0);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..100 {
            throttle.failed(a);
        }
        assert_eq!(throttle.check(a), Ok(()));
    }
}
