//! Who may use `/admin`: the admin token, presented as a bearer token or through the login
//! form, which sets a session cookie (HttpOnly, SameSite=Strict, path `/admin`). The cookie and
//! the CSRF token are HMACs of the admin token, so they need no storage, never reveal the token,
//! and stop working when it is rotated. Every action (a POST) must carry the CSRF token.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::routes::auth::{bearer_is_admin, same_secret};
use crate::startup::AppState;

pub const COOKIE: &str = "paylink_admin";

fn derive(token: &SecretString, purpose: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(purpose.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The session cookie's value for this admin token.
pub fn session_value(token: &SecretString) -> String {
    derive(token, "paylink admin session v1")
}

/// The CSRF token every admin form carries.
pub fn csrf_token(token: &SecretString) -> String {
    derive(token, "paylink admin csrf v1")
}

/// Whether the request carries the admin token (bearer) or a valid session cookie.
pub fn authenticated(state: &AppState, headers: &HeaderMap) -> bool {
    if bearer_is_admin(state, headers) {
        return true;
    }
    let expected = session_value(&state.admin_token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same_secret(value, &expected))
}

/// Whether a form's `csrf` field is this deployment's CSRF token.
pub fn csrf_ok(state: &AppState, presented: &str) -> bool {
    same_secret(presented, &csrf_token(&state.admin_token))
}

/// `Set-Cookie` for a new session (or, with `None`, one that ends it).
pub fn set_cookie(state: &AppState, value: Option<&str>) -> String {
    let secure = if state.jobs.public_base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    match value {
        Some(v) => format!("{COOKIE}={v}; Path=/admin; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Every `/admin` page and action but the login form: without the token, 401 with the login
/// page.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if authenticated(&state, request.headers()) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        Html(super::views::login(None).into_string()),
    )
        .into_response()
}
