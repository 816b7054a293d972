//! Stripe's webhook signature, verified by paylink itself: `Stripe-Signature:
//! t=TIMESTAMP,v1=HEX[,v1=HEX…]`, each `v1` an HMAC-SHA256 over `TIMESTAMP.RAW_BODY` with a
//! `whsec_…` secret. Every `v1` is tried against every configured secret (during a secret roll
//! Stripe signs with both, and either may match), comparisons are constant-time, and the
//! timestamp must be within the tolerance either way.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was refused. Messages are safe to return: they never contain a secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header: {0}")]
    Malformed(&'static str),
    #[error("timestamp outside the tolerance of {tolerance_secs} s (off by {off_by_secs} s)")]
    Stale {
        tolerance_secs: u64,
        off_by_secs: u64,
    },
    #[error("no v1 signature matches any configured webhook secret")]
    NoMatch,
}

/// The parsed header: one timestamp, every `v1` signature (other schemes are ignored, as Stripe's
/// libraries do).
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v1: Vec<Vec<u8>>,
}

pub fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed("expected key=value pairs"));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("more than one timestamp"));
                }
                timestamp = Some(parse_timestamp(value)?);
            }
            "v1" => {
                v1.push(hex::decode(value).map_err(|_| SignatureError::Malformed("v1 is not hex"))?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp"))?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    Ok(SignatureHeader { timestamp, v1 })
}

/// Most digits a timestamp may have: Unix seconds have ten until the year 2286, so twelve is
/// generous and keeps the number far from `i64`'s edge.
pub const MAX_TIMESTAMP_DIGITS: usize = 12;

/// `t=` as Stripe writes it: plain Unix seconds, ASCII digits only. `parse::<i64>` alone would
/// also take `+1700000000`, `-5` and leading zeros, several spellings of one signed timestamp.
fn parse_timestamp(value: &str) -> Result<i64, SignatureError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed(
            "timestamp must be Unix seconds in ASCII digits",
        ));
    }
    if value.len() > 1 && value.starts_with('0') {
        return Err(SignatureError::Malformed(
            "timestamp must not have leading zeros",
        ));
    }
    if value.len() > MAX_TIMESTAMP_DIGITS {
        return Err(SignatureError::Malformed("timestamp has too many digits"));
    }
    value
        .parse::<i64>()
        .map_err(|_| SignatureError::Malformed("timestamp is not an integer"))
}

/// Verifies `payload` against the header at time `now` (Unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[SecretString],
    tolerance_secs: u64,
    now: i64,
) -> Result<(), SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::Missing)?)?;
    let off_by_secs = now.abs_diff(header.timestamp);
    if off_by_secs > tolerance_secs {
        return Err(SignatureError::Stale {
            tolerance_secs,
            off_by_secs,
        });
    }
    let timestamp = header.timestamp.to_string();
    for secret in secrets {
        let mac = mac_for(secret, &timestamp, payload);
        for signature in &header.v1 {
            // `verify_slice` compares in constant time; clone so each try starts from the same state.
            if mac.clone().verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

fn mac_for(secret: &SecretString, timestamp: &str, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// Signs a payload the way Stripe does (`t=…,v1=…`), for tests and the intake benchmark.
pub fn sign(secret: &SecretString, timestamp: i64, payload: &[u8]) -> String {
    let signature = mac_for(secret, &timestamp.to_string(), payload)
        .finalize()
        .into_bytes();
    format!("t={timestamp},v1={}", hex::encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn a_stripe_signed_payload_verifies() {
        let header = sign(&secret("whsec_a"), 1_000, b"{}");
        assert_eq!(
            verify(Some(&header), b"{}", &[secret("whsec_a")], 300, 1_100),
            Ok(())
        );
    }

    #[test]
    fn any_v1_against_any_secret_may_match() {
        let good = sign(&secret("whsec_new"), 1_000, b"{}");
        let good_v1 = good.split_once("v1=").unwrap().1;
        let header = format!("t=1000,v1={},v1={good_v1}", "00".repeat(32));
        let secrets = [secret("whsec_old"), secret("whsec_new")];
        assert_eq!(verify(Some(&header), b"{}", &secrets, 300, 1_000), Ok(()));
    }

    #[test]
    fn refusals_say_why() {
        let secrets = [secret("whsec_a")];
        let header = sign(&secret("whsec_a"), 1_000, b"{}");
        assert_eq!(
            verify(None, b"{}", &secrets, 300, 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some(&header), b"{ }", &secrets, 300, 1_000),
            Err(SignatureError::NoMatch)
        );
        assert!(matches!(
            verify(Some(&header), b"{}", &secrets, 300, 1_301),
            Err(SignatureError::Stale { .. })
        ));
        assert!(matches!(
            verify(Some(&header), b"{}", &secrets, 300, 699),
            Err(SignatureError::Stale { .. })
        ));
        assert!(matches!(
            verify(Some("t=1,v1=zz"), b"{}", &secrets, 300, 1),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("v1=00"), b"{}", &secrets, 300, 1),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("t=1"), b"{}", &secrets, 300, 1),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("garbage"), b"{}", &secrets, 300, 1),
            Err(SignatureError::Malformed(_))
        ));
        assert_eq!(
            verify(Some(&header), b"{}", &[], 300, 1_000),
            Err(SignatureError::NoMatch)
        );
    }

    /// Only plain Unix seconds are a timestamp: one signed value has one spelling.
    #[test]
    fn timestamps_are_ascii_digits_without_sign_or_leading_zero() {
        for bad in [
            "+1700000000",
            "01700000000",
            "00",
            "-5",
            "-0",
            "\u{ff11}\u{ff12}",
            "",
            " 1700000000",
            "17 00000000",
            "1_700_000_000",
            "1e9",
            "1234567890123",
        ] {
            let header = format!("t={bad},v1=00");
            assert!(
                matches!(parse_header(&header), Err(SignatureError::Malformed(_))),
                "{bad:?} is not a timestamp"
            );
        }
        for (good, value) in [
            ("1700000000", 1_700_000_000),
            ("0", 0),
            ("999999999999", 999_999_999_999),
        ] {
            let parsed = parse_header(&format!("t={good},v1=00")).unwrap();
            assert_eq!(parsed.timestamp, value, "{good:?}");
        }
    }

    /// A signature Stripe made over `t=+…` or `t=0…` is refused, not checked against the
    /// canonical spelling.
    #[test]
    fn an_alternative_spelling_of_a_signed_timestamp_is_refused() {
        let secrets = [secret("whsec_a")];
        let header = sign(&secret("whsec_a"), 1_700_000_000, b"{}");
        let v1 = header.split_once(",v1=").unwrap().1;
        for t in ["+1700000000", "01700000000"] {
            assert!(matches!(
                verify(
                    Some(&format!("t={t},v1={v1}")),
                    b"{}",
                    &secrets,
                    300,
                    1_700_000_000
                ),
                Err(SignatureError::Malformed(_))
            ));
        }
    }
}

/// Properties over arbitrary input: the header and body come from the network.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const TOLERANCE: u64 = 300;
    /// The largest timestamp a header may carry ([`MAX_TIMESTAMP_DIGITS`] nines).
    const LATEST: i64 = 999_999_999_999;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    /// Header-like strings: `key=value` parts (timestamps, hex, other schemes, junk) joined by
    /// commas with stray whitespace, so that parsing gets past its first check.
    fn header_like() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            any::<i64>().prop_map(|t| format!("t={t}")),
            "t=[-+0-9 ]{0,22}",
            "v1=[0-9a-fA-F]{0,80}",
            "v1=[0-9a-z]{0,66}",
            "v0=[0-9a-f]{0,64}",
            "[a-z0-9]{0,3}=?[ -~]{0,12}",
            "[ ,=\t]{0,3}",
            ".{0,12}",
        ];
        prop::collection::vec(part, 0..6).prop_map(|parts| parts.join(","))
    }

    fn any_header() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), header_like()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the header and body, parsing and verifying answer, and a header nobody
        /// signed never verifies.
        #[test]
        fn arbitrary_headers_never_panic_and_never_verify(
            header in any_header(),
            body in prop::collection::vec(any::<u8>(), 0..256),
            now in any::<i64>(),
            tolerance in prop_oneof![Just(TOLERANCE), any::<u64>()],
        ) {
            let _ = parse_header(&header);
            let secrets = [secret("whsec_a"), secret("whsec_b")];
            prop_assert!(verify(Some(&header), &body, &secrets, tolerance, now).is_err());
            prop_assert!(verify(Some(&header), &body, &[], tolerance, now).is_err());
        }

        /// A header Stripe signed verifies with the right secret, within the tolerance either way,
        /// whatever other secrets are configured and whatever other signatures and schemes the
        /// header carries, in any order.
        #[test]
        fn a_correctly_signed_delivery_always_verifies(
            key in ".{0,40}",
            other_keys in prop::collection::vec(".{0,20}", 0..3),
            body in prop::collection::vec(any::<u8>(), 0..512),
            timestamp in 0..=LATEST,
            skew in -(TOLERANCE as i64)..=(TOLERANCE as i64),
            decoys in prop::collection::vec("(v1|v0|x)=[0-9a-f]{64}", 0..3),
            at in any::<prop::sample::Index>(),
        ) {
            let signed = sign(&secret(&key), timestamp, &body);
            let mut parts: Vec<String> = signed.split(',').map(str::to_owned).collect();
            let mut extra = decoys;
            let where_ = at.index(extra.len() + 1);
            extra.insert(where_, parts.pop().expect("a v1 part"));
            parts.extend(extra);
            let header = parts.join(",");
            let mut secrets: Vec<SecretString> = other_keys.iter().map(|k| secret(k)).collect();
            secrets.insert(where_.min(secrets.len()), secret(&key));
            prop_assert_eq!(
                verify(Some(&header), &body, &secrets, TOLERANCE, timestamp + skew),
                Ok(())
            );
        }

        /// A signature made with another secret, or over another body, never verifies.
        #[test]
        fn another_secret_or_a_tampered_body_never_verifies(
            key in ".{0,40}",
            other_key in ".{0,40}",
            body in prop::collection::vec(any::<u8>(), 0..256),
            tampered in prop::collection::vec(any::<u8>(), 0..256),
            timestamp in 0..=LATEST,
        ) {
            // HMAC pads short keys with zeros, so `k` and `k\0` are the same key.
            prop_assume!(key.trim_end_matches('\0') != other_key.trim_end_matches('\0'));
            let header = sign(&secret(&other_key), timestamp, &body);
            prop_assert_eq!(
                verify(Some(&header), &body, &[secret(&key)], TOLERANCE, timestamp),
                Err(SignatureError::NoMatch)
            );
            prop_assume!(tampered != body);
            let header = sign(&secret(&key), timestamp, &body);
            prop_assert_eq!(
                verify(Some(&header), &tampered, &[secret(&key)], TOLERANCE, timestamp),
                Err(SignatureError::NoMatch)
            );
        }

        /// A correct signature outside the tolerance is stale, however far off, either way.
        #[test]
        fn a_signature_outside_the_tolerance_is_stale(
            body in prop::collection::vec(any::<u8>(), 0..64),
            timestamp in 0..=LATEST,
            now in any::<i64>(),
        ) {
            prop_assume!(now.abs_diff(timestamp) > TOLERANCE);
            let header = sign(&secret("whsec_a"), timestamp, &body);
            let is_stale = matches!(
                verify(Some(&header), &body, &[secret("whsec_a")], TOLERANCE, now),
                Err(SignatureError::Stale { .. })
            );
            prop_assert!(is_stale);
        }
    }
}
