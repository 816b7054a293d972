//! The admin token: one constant-time comparison and one bearer check, shared by `/v1/*` (this
//! middleware) and `/admin` (which also takes a session cookie; see `admin/session.rs`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::startup::AppState;

/// Whether `presented` equals `expected`, in constant time; empty never matches.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether `presented` is the admin token itself.
pub fn is_admin_token(state: &AppState, presented: &str) -> bool {
    same_secret(presented, state.admin_token.expose_secret())
}

/// Whether the request carries `Authorization: Bearer <admin token>`.
pub fn bearer_is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| is_admin_token(state, presented))
}

pub async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !bearer_is_admin(&state, request.headers()) {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(request).await)
}
