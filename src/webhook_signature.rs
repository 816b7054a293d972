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
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("timestamp is not an integer"))?,
                );
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
}
