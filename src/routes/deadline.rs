//! Every request's total deadline (`http.request_timeout_secs`): whatever a handler waits for
//! (the database, Stripe, a lock), the client has its answer within it and the connection is
//! free again. Past it the handler's future is dropped, so its open transaction rolls back and
//! nothing half-done is kept; the client is told to try again.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Runs the request, or answers 503 once `deadline` has passed.
pub async fn enforce(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("paylink_http_request_timeouts_total").increment(1);
            tracing::warn!(%method, %path, deadline_secs = deadline.as_secs(), "request cut off at its deadline (http.request_timeout_secs)");
            timed_out(&path, deadline)
        }
    }
}

fn timed_out(path: &str, deadline: Duration) -> Response {
    if path.starts_with("/v1/") || path.starts_with("/webhooks/") {
        return ApiError::Unavailable(format!(
            "the request did not finish within {} s (http.request_timeout_secs) and was not applied; try again",
            deadline.as_secs()
        ))
        .into_response();
    }
    super::pay::page(StatusCode::SERVICE_UNAVAILABLE, super::pages::unavailable())
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    #[tokio::test]
    async fn the_api_is_told_in_its_json_and_a_payer_gets_a_page() {
        let api = timed_out("/v1/orders", Duration::from_secs(90));
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.headers()[header::RETRY_AFTER], "5");
        let body = axum::body::to_bytes(api.into_body(), 4096)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"]["code"], "unavailable");
        let message = json["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("90 s") && message.contains("http.request_timeout_secs"),
            "{message}"
        );

        let pay = timed_out("/pay/abc", Duration::from_secs(90));
        assert_eq!(pay.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(pay.headers()[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(pay.into_body(), 64 * 1024)
            .await
            .expect("body");
        assert!(String::from_utf8_lossy(&body).contains("not available right now"));
    }
}
