//! Which addresses paylink's own webhooks may reach (docs/security.md, "Outbound webhooks").
//!
//! Whoever holds the admin token registers endpoint URLs, and the dashboard shows how each try
//! fared: without these checks that is a way to make paylink POST to its own network (Redis on
//! 127.0.0.1:6379, a cloud's metadata service on 169.254.169.254) and to read off which ports
//! answer. So unless `outbound.allow_private_networks` is set, a target must be a public
//! address: checked when the endpoint is registered ([`check_registration`]) and again on every
//! connection, on the address actually connected to ([`super::resolve`], and
//! [`literal_refusal`] for URLs that name an address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public: the words a refusal uses (`"a loopback address"`), or `None`
/// for an address paylink may post to.
///
/// The `url` crate has already turned every spelling of an IPv4 address in a URL (decimal
/// `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`) into the address itself, so
/// this sees addresses, never spellings. An IPv6 address that carries an IPv4 one (mapped
/// `::ffff:127.0.0.1`, compatible `::127.0.0.1`, NAT64 `64:ff9b::7f00:1`, 6to4 `2002:7f00:1::`)
/// is judged by the IPv4 address it reaches.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_broadcast() => "a broadcast address",
        (0, _, _) => "an address of this network (0.0.0.0/8)",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) => "an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        0xfe80..=0xfebf => "a link-local address",
        // Deprecated site-local (fec0::/10): private in effect wherever it is still routed.
        0xfec0..=0xfeff => "a site-local address",
        0xfc00..=0xfdff => "a unique-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        // Teredo (2001::/32) hides the IPv4 address it reaches; nobody's webhook needs it.
        0x2001 if s[1] == 0 => "a Teredo tunnel address",
        // Local-use NAT64 (64:ff9b:1::/48) embeds addresses of the operator's own network.
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address (100::/64)",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 one stands for, when it stands for one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`,
/// deprecated but still routed by some stacks), well-known NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        // `::` and `::1` are IPv6's own unspecified and loopback, judged as such.
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_unspecified() && !ip.is_loopback() => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x2002, _, _, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// Host names that name the machine or its private network whatever DNS says: `localhost`
/// and `*.localhost` (RFC 6761), `*.internal` (cloud metadata and private zones such as
/// `metadata.google.internal`), `*.local` (mDNS), `*.home.arpa` (RFC 8375). `name` is as the
/// `url` crate writes it (lower case, punycode).
fn local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name == "localhost"
        || ["localhost", "internal", "local", "home.arpa"]
            .iter()
            .any(|zone| name == *zone || name.ends_with(&format!(".{zone}")))
}

/// Why a registration's URL is refused: its host is not public.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotPublic(pub String);

/// How long a registration waits for DNS before it takes the name as it is (the connection
/// checks again anyway).
const REGISTRATION_LOOKUP: std::time::Duration = std::time::Duration::from_secs(5);

/// Refuses a parsed endpoint URL whose host is not public: an address that [`forbidden`]
/// names, a name of the machine or its private network, or a name that resolves (now) to a
/// forbidden address. A name that does not resolve is let through: the connection is checked
/// on each try whatever the name resolves to then.
pub async fn check_registration(url: &reqwest::Url) -> Result<(), NotPublic> {
    match url.host() {
        None => Ok(()),
        Some(url::Host::Ipv4(ip)) => check_address(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => check_address(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let resolved = tokio::time::timeout(
                REGISTRATION_LOOKUP,
                tokio::net::lookup_host((name.trim_end_matches('.'), port)),
            )
            .await;
            let addresses: Vec<IpAddr> = match resolved {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
            check_name(name, &addresses)
        }
    }
}

fn check_address(ip: IpAddr) -> Result<(), NotPublic> {
    match forbidden(ip) {
        Some(why) => Err(NotPublic(format!(
            "{ip} is {why}; paylink posts only to public addresses unless \
             outbound.allow_private_networks is set"
        ))),
        None => Ok(()),
    }
}

/// A host name and what it resolved to: refused when any address is forbidden (a name with one
/// public and one private address would reach the private one on some tries), or when the name
/// itself is local. The answer names the kind of address, never the address: it is about the
/// host's own network.
fn check_name(name: &str, resolved: &[IpAddr]) -> Result<(), NotPublic> {
    if let Some(why) = resolved.iter().find_map(|ip| forbidden(*ip)) {
        return Err(NotPublic(format!(
            "{name} resolves to {why}; paylink posts only to public addresses unless \
             outbound.allow_private_networks is set"
        )));
    }
    if local_name(name) {
        return Err(NotPublic(format!(
            "{name} names this machine or a private network; paylink posts only to public \
             addresses unless outbound.allow_private_networks is set"
        )));
    }
    Ok(())
}

/// For a URL whose host is an address (which reqwest connects to without asking the resolver,
/// so [`super::resolve`] never sees it): whether the address is refused.
pub fn literal_refusal(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => forbidden(IpAddr::V4(ip)).is_some(),
        Some(url::Host::Ipv6(ip)) => forbidden(IpAddr::V6(ip)).is_some(),
        _ => false,
    }
}

/// An endpoint URL as answers, pages and logs show it: the password of its userinfo (or a lone
/// user name, which is often a token) as `***`, and the values of query parameters whose names
/// say they are secrets (`token`, `key`, `secret`, `sig`, `pass`, `auth`). Receivers put
/// credentials there, and whoever reads the dashboard or the log need not learn them.
pub fn mask_url(url: &str) -> String {
    // Stored URLs were parsed and written back at registration, so they always parse; one that
    // does not is shown as nothing of its text.
    match reqwest::Url::parse(url) {
        Ok(parsed) => crate::store::redact_url_hiding(parsed.as_str(), URL_SECRET_WORDS),
        Err(_) => "(an unreadable URL)".into(),
    }
}

/// Words that mark a query parameter of an endpoint URL as a secret.
const URL_SECRET_WORDS: &[&str] = &["pass", "pwd", "secret", "token", "key", "sig", "auth"];

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> String {
        reqwest::Url::parse(url)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned()
    }

    /// What the `url` crate makes of the spellings an attacker would try: one address each,
    /// so [`forbidden`] never meets a spelling.
    #[test]
    fn the_url_crate_writes_every_ipv4_spelling_as_the_address() {
        for url in [
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://127.0.1/",
            "http://017700000001/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
        ] {
            assert_eq!(host_of(url), "127.0.0.1", "{url}");
        }
        assert_eq!(
            host_of("http://[::ffff:127.0.0.1]:6379/"),
            "[::ffff:7f00:1]"
        );
    }

    #[test]
    fn private_and_special_addresses_are_refused_and_public_ones_pass() {
        for refused in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::2",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "100::1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(forbidden(ip).is_some(), "{refused} must be refused");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "169.253.1.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(forbidden(ip), None, "{public} is public");
        }
        assert_eq!(
            forbidden("::ffff:127.0.0.1".parse().unwrap()),
            Some("a loopback address"),
            "a mapped address is judged by the IPv4 address it reaches"
        );
    }

    #[test]
    fn a_name_is_refused_for_any_forbidden_address_it_resolves_to_or_for_being_local() {
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert_eq!(check_name("hooks.example.org", &[public]), Ok(()));
        assert_eq!(
            check_name("hooks.example.org", &[]),
            Ok(()),
            "no answer: let through"
        );
        let rebinding = check_name("hooks.example.org", &[public, loopback]).unwrap_err();
        assert!(
            rebinding.0.contains("resolves to a loopback address"),
            "{rebinding}"
        );
        assert!(
            !rebinding.0.contains("127.0.0.1"),
            "the address is not named: {rebinding}"
        );
        let cloud = check_name("metadata.google.internal", &[metadata]).unwrap_err();
        assert!(cloud.0.contains("link-local"), "{cloud}");
        for local in [
            "localhost",
            "localhost.",
            "api.localhost",
            "metadata.google.internal",
            "printer.local",
            "nas.home.arpa",
        ] {
            let refused = check_name(local, &[]).unwrap_err();
            assert!(
                refused.0.contains("names this machine"),
                "{local}: {refused}"
            );
        }
        for fine in [
            "internal.example.org",
            "localhost.example.org",
            "local.example",
        ] {
            assert_eq!(check_name(fine, &[public]), Ok(()), "{fine}");
        }
    }

    #[test]
    fn only_urls_naming_a_forbidden_address_are_refused_before_connecting() {
        assert!(literal_refusal("http://127.0.0.1:6379/"));
        assert!(literal_refusal("http://[::ffff:7f00:1]:6379/"));
        assert!(literal_refusal("http://169.254.169.254/latest/meta-data/"));
        assert!(!literal_refusal("https://8.8.8.8/hook"));
        assert!(
            !literal_refusal("http://localhost/"),
            "a name: the resolver's to judge"
        );
    }

    #[test]
    fn credentials_in_a_url_are_masked_and_the_rest_is_kept() {
        assert_eq!(
            mask_url("https://user:hunter2@hooks.example.org/in?team=7"),
            "https://user:***@hooks.example.org/in?team=7"
        );
        assert_eq!(
            mask_url("https://tok_abc@hooks.example.org/"),
            "https://***@hooks.example.org/"
        );
        assert_eq!(
            mask_url("https://hooks.example.org/in?token=s3cret&team=7&api_key=k&sig=x"),
            "https://hooks.example.org/in?token=***&team=7&api_key=***&sig=***"
        );
        assert_eq!(
            mask_url("https://hooks.example.org/hooks/paylink"),
            "https://hooks.example.org/hooks/paylink"
        );
        assert!(!mask_url("https://u:p%40ss@h.example/").contains("p%40ss"));
    }
}
