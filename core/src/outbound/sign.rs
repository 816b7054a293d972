//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), through the
//! `standardwebhooks` crate: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per secret,
//! space-separated, so that during a rotation a receiver with either secret verifies.

use rand::RngCore as _;

/// A new endpoint secret: `whsec_` and 32 random bytes in standard base64.
pub fn new_secret() -> String {
    use base64::Engine as _;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `webhook-signature` header for `body` sent as message `id` at `timestamp` (Unix
/// seconds), one `v1,…` per secret.
pub fn signature(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, standardwebhooks::WebhookError> {
    let mut parts = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret)?;
        parts.push(signer.sign(id, timestamp, body.as_bytes())?);
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference implementation.
    #[test]
    fn signs_as_the_standard_s_example() {
        let sig = signature(
            &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn two_secrets_sign_twice_and_new_secrets_differ() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        let sig = signature(&[&a, &b], "msg_1", 1, "{}").unwrap();
        assert_eq!(sig.split(' ').count(), 2);
        assert!(sig.split(' ').all(|s| s.starts_with("v1,")));
    }
}
