//! The admin token: one constant-time comparison and one bearer check, shared by `/v1/*` (this
//! middleware) and `/admin` (which also takes a session cookie; see `admin/session.rs`). Failed
//! checks count towards the client address's throttle (`throttle.rs`).

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::ApiError;
use super::throttle::{Throttled, client_addr};
use crate::startup::AppState;

/// Whether `presented` equals `expected`, in constant time; empty never matches.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether `presented` is the admin token itself.
pub fn is_admin_token(state: &AppState, presented: &str) -> bool {
    same_secret(presented, state.admin_token.expose_secret())
}

/// What a request says about the admin token in `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    Absent,
    Admin,
    Wrong,
}

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(state: &AppState, headers: &HeaderMap) -> Bearer {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::Absent;
    };
    match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
        Some(presented) if is_admin_token(state, presented) => Bearer::Admin,
        _ => Bearer::Wrong,
    }
}

/// The request's client address, for the throttle (`None` only off a real connection).
pub fn client(state: &AppState, request: &axum::http::request::Parts) -> Option<IpAddr> {
    client_addr(request, state.client_ip_header.as_deref())
}

/// Refuses a throttled address before its credential is even looked at.
pub fn check_throttle(state: &AppState, addr: Option<IpAddr>) -> Result<(), Throttled> {
    addr.map_or(Ok(()), |addr| state.throttle.check(addr))
}

/// Counts a failed credential against the address.
pub fn count_failure(state: &AppState, addr: Option<IpAddr>) {
    if let Some(addr) = addr {
        state.throttle.failed(addr);
    }
}

pub async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let addr = client(&state, &parts);
    check_throttle(&state, addr).map_err(|t| ApiError::Throttled {
        retry_after_secs: t.retry_after_secs,
    })?;
    if bearer(&state, &parts.headers) != Bearer::Admin {
        count_failure(&state, addr);
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}
