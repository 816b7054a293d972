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

    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "invalid_request_error",
            None,
            "Invalid API Key provided. Use a test secret key (sk_test_…) with the stand-in.",
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

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body)).into_response()
    }
}
