//! Stripe's error bodies: `{"error": {"type", "code", "message", "param", "doc_url"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error the stand-in answers with, in Stripe's shape.
#[derive(Debug)]
pub struct StripeError {
    pub status: u16,
    pub body: Value,
}

impl StripeError {
    pub fn new(
        status: u16,
        kind: &str,
        code: Option<&str>,
        message: &str,
        param: Option<&str>,
    ) -> Self {
        let mut error = json!({"type": kind, "message": message});
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        Self {
            status,
            body: json!({"error": error}),
        }
    }

    pub fn invalid(code: &str, message: &str, param: Option<&str>) -> Self {
        Self::new(400, "invalid_request_error", Some(code), message, param)
    }

    pub fn missing(param: &str) -> Self {
        Self::invalid(
            "parameter_missing",
            &format!("Missing required param: {param}."),
            Some(param),
        )
    }

    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such {kind}: '{id}'"),
            Some(param),
        )
    }

    /// Parameters that exclude each other, as Stripe words it.
    pub fn one_of(params: &[&str]) -> Self {
        Self::invalid(
            "parameter_invalid",
            &format!(
                "You may only specify one of these parameters: {}.",
                params.join(", ")
            ),
            params.first().copied(),
        )
    }

    /// Stripe's 401 for a request without a key.
    pub fn no_api_key() -> Self {
        Self::new(
            401,
            "invalid_request_error",
            None,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
            None,
        )
    }

    /// Stripe's 400 for a `Stripe-Version` it never published ("Invalid Stripe API version:
    /// 2019-2-19", as its client libraries' issue trackers quote it).
    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            None,
            &format!("Invalid Stripe API version: {version}"),
            None,
        )
    }

    /// Stripe's 403 for a restricted key without the permission a request needs.
    pub fn missing_permission(key: &str, permission: &str) -> Self {
        Self::new(
            403,
            "invalid_request_error",
            None,
            &format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account 'acct_fake'. Having the '{permission}' permission would allow this request to continue.",
                mask_key(key)
            ),
            None,
        )
    }

    /// Stripe's 401 for a key it does not hold, the key masked as Stripe masks it.
    pub fn invalid_api_key(key: &str) -> Self {
        Self::new(
            401,
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: {}", mask_key(key)),
            None,
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
            None,
        )
    }

    pub fn server() -> Self {
        Self::new(
            500,
            "api_error",
            None,
            "An unknown error occurred (injected by the stand-in).",
            None,
        )
    }
}

/// A key as Stripe shows it in errors: its first 8 characters (`sk_test_`), then one `*` for
/// each hidden character, then its last 4.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let shown = chars.len().min(8);
    let rest = &chars[shown..];
    let tail = if rest.len() > 4 {
        &rest[rest.len() - 4..]
    } else {
        &[][..]
    };
    let mut masked: String = chars[..shown].iter().collect();
    masked.extend(std::iter::repeat_n('*', rest.len() - tail.len()));
    masked.extend(tail);
    masked
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::mask_key;

    #[test]
    fn keys_are_masked_but_for_their_kind_and_last_four() {
        assert_eq!(mask_key("sk_test_0123456789abcd"), "sk_test_**********abcd");
        assert_eq!(mask_key("rk_live_xyzwabcd"), "rk_live_****abcd");
        assert_eq!(mask_key("sk_test_abc"), "sk_test_***");
        assert_eq!(mask_key("nope"), "nope");
    }
}
