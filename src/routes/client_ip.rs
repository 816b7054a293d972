//! Which client a request comes from, for the token throttle (`throttle.rs`): the connection's
//! peer, or, behind a reverse proxy, the address the proxy writes into `http.client_ip_header`
//! (docs/security.md, "Client addresses behind a proxy").
//!
//! Two mistakes are easy to make and silent, so each is logged once per process:
//!
//! - the setting is unset while requests arrive carrying `X-Forwarded-For`, `Forwarded` or
//!   `X-Real-IP`: paylink sits behind a proxy and sees every client as the proxy's address;
//! - the setting is set but a request's header holds no address paylink can read (absent,
//!   `unknown`, an obfuscated `Forwarded` identifier, garbage). Such a request is counted under
//!   the connection's peer, which behind the proxy is the proxy itself: only wrong credentials
//!   are counted and refused (the right token always passes), so the cost of sharing that count
//!   falls on other wrong credentials, never on the operator.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;

/// Headers a reverse proxy adds with the client's address; seeing one while
/// `http.client_ip_header` is unset means paylink is behind a proxy it was not told about.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// `http.client_ip_header` and the once-only warnings about it.
#[derive(Debug)]
pub struct ClientIp {
    header: Option<HeaderName>,
    warned_unreadable: AtomicBool,
    warned_unconfigured: AtomicBool,
}

impl ClientIp {
    /// `header` was checked to be a valid header name when the settings were read; one that
    /// is not (settings built in code) reads no address and falls back to the peer, logged.
    pub fn new(header: Option<&str>) -> Self {
        Self {
            header: header.and_then(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok()),
            warned_unreadable: AtomicBool::new(false),
            warned_unconfigured: AtomicBool::new(false),
        }
    }

    /// The request's client: the address in the configured header (its last entry, the one
    /// the proxy nearest paylink added), else the connection's peer. `None` only off a real
    /// connection (a request built in a test).
    pub fn of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let Some(name) = &self.header else {
            return peer;
        };
        if let Some(addr) = from_header(&parts.headers, name) {
            return Some(addr);
        }
        if !self.warned_unreadable.swap(true, Ordering::Relaxed) {
            // The value is the client's to choose: it is not repeated here.
            tracing::warn!(
                header = %name,
                peer = ?peer,
                "a request carried no readable client address in its {name} header (absent, \
                 or its last entry is not an IP address); such requests are counted under the \
                 connection's peer by the token throttle. Check that every request reaches \
                 paylink through the proxy and that it sets {name} \
                 (PAYLINK__HTTP__CLIENT_IP_HEADER). Logged once."
            );
        }
        peer
    }

    /// With `http.client_ip_header` unset, says once that requests carry a proxy's forwarding
    /// headers: paylink is behind a proxy and counts every client as the proxy.
    fn notice_forwarding(&self, headers: &HeaderMap, peer: Option<IpAddr>) {
        if self.header.is_some() || self.warned_unconfigured.load(Ordering::Relaxed) {
            return;
        }
        let Some(seen) = FORWARDING_HEADERS
            .iter()
            .find(|name| headers.contains_key(**name))
        else {
            return;
        };
        if !self.warned_unconfigured.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                header = %seen,
                peer = ?peer,
                "requests arrive with a {seen} header but http.client_ip_header is unset: \
                 paylink is behind a proxy and sees every client as the proxy's address, so \
                 one client's failed admin tokens are counted against all of them and the \
                 per-client connection cap counts the proxy as one client. Set \
                 PAYLINK__HTTP__CLIENT_IP_HEADER to the header the proxy writes the client's \
                 address into (e.g. X-Forwarded-For). Logged once."
            );
        }
    }
}

/// Every request passes here: the check behind [`ClientIp::notice_forwarding`] costs one
/// atomic load once the warning is given.
pub async fn notice_forwarding(
    State(client_ip): State<Arc<ClientIp>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    client_ip.notice_forwarding(request.headers(), peer);
    next.run(request).await
}

/// Why a deployment looks proxied although `http.client_ip_header` is unset, for the start-up
/// log and `paylink doctor`; `None` when it is set or nothing says so.
pub fn unconfigured_proxy(settings: &crate::config::Settings) -> Option<String> {
    if settings.client_ip_header().is_some() {
        return None;
    }
    // paylink serves plain HTTP only: an https public URL means something terminates TLS in
    // front of it, and every connection comes from that.
    settings
        .public_base_url
        .trim()
        .to_ascii_lowercase()
        .starts_with("https://")
        .then(|| {
            "the public URL is https, so a TLS-terminating proxy is in front of paylink (which \
             speaks plain HTTP), but PAYLINK__HTTP__CLIENT_IP_HEADER is unset: every client \
             counts as the proxy's address for the token throttle and the per-client \
             connection cap; set it to the header the proxy writes the client's address into \
             (e.g. X-Forwarded-For)"
                .to_owned()
        })
}

/// The address in the last entry of `name`'s values (several lines count as one list).
fn from_header(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let last = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?;
    parse_entry(last)
}

/// One entry: `203.0.113.9`, `2001:db8::1`, with a port (`203.0.113.9:4711`,
/// `[2001:db8::1]:4711`), or a `Forwarded` element (`for=203.0.113.9;proto=https`,
/// `for="[2001:db8::1]:4711"`). Anything else (`unknown`, `_hidden`) is no address.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let value = match entry
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
    {
        Some((_, value)) => value.trim().trim_matches('"'),
        None => entry,
    };
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = value.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn every_spelling_proxies_write_is_read() {
        for (entry, expected) in [
            ("203.0.113.9", "203.0.113.9"),
            (" 203.0.113.9 ", "203.0.113.9"),
            ("203.0.113.9:4711", "203.0.113.9"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("proto=https; for=198.51.100.17", "198.51.100.17"),
        ] {
            assert_eq!(parse_entry(entry), Some(ip(expected)), "{entry}");
        }
        for unreadable in [
            "unknown",
            "for=unknown",
            "for=_hidden",
            "",
            "garbage",
            "1.2.3",
        ] {
            assert_eq!(parse_entry(unreadable), None, "{unreadable}");
        }
    }

    #[test]
    fn the_last_entry_of_the_last_line_is_the_client() {
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        headers.append(&name, "198.51.100.7, 10.0.0.1".parse().expect("value"));
        headers.append(&name, "203.0.113.9".parse().expect("value"));
        assert_eq!(from_header(&headers, &name), Some(ip("203.0.113.9")));
        let mut forged = HeaderMap::new();
        forged.append(&name, "203.0.113.9, unknown".parse().expect("value"));
        assert_eq!(
            from_header(&forged, &name),
            None,
            "an earlier entry is the client's own claim and is not used"
        );
    }
}
