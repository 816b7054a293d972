//! The admin token: one constant-time comparison and one bearer check, shared by `/v1/*` (this
//! middleware), `/metrics` on the public port and `/admin` (which also takes a session cookie;
//! see `admin/session.rs`).
//!
//! The credential is judged first and the throttle (`throttle.rs`) only then, for a wrong one:
//! the right token always passes, even from an address that is throttled; a wrong one is
//! counted, and refused with 429 once the address has failed too often this minute
//! (docs/security.md, "Admin token and throttle").

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::ApiError;
use super::throttle::Throttled;
use crate::routes::state::AppState;

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
    state.client_ip.of(request)
}

/// Why a credential that is not the admin token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Counted against the address: 401.
    Wrong,
    /// The address failed too often this minute: 429 with `Retry-After`.
    Throttled(Throttled),
}

/// Refuses a wrong (or missing) credential from `addr`: 429 while the address is throttled,
/// else the failure is counted and the answer is 401. Call it only once the credential was
/// found wrong, so that the right one is never throttled.
pub fn refuse(state: &AppState, addr: Option<IpAddr>) -> Refusal {
    let Some(addr) = addr else {
        return Refusal::Wrong;
    };
    if let Err(throttled) = state.throttle.check(addr) {
        return Refusal::Throttled(throttled);
    }
    state.throttle.failed(addr);
    Refusal::Wrong
}

pub async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if bearer(&state, &parts.headers) == Bearer::Admin {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    }
    Err(match refuse(&state, client(&state, &parts)) {
        Refusal::Wrong => ApiError::Unauthorized,
        Refusal::Throttled(t) => ApiError::Throttled {
            retry_after_secs: t.retry_after_secs,
        },
    })
}
