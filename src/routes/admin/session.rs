//! Who may use `/admin` (docs/security.md): the admin token as a bearer token (scripts), or a
//! session from the login form. A login opens a server-side session (`store::admin_session`):
//! the cookie holds a random secret, the database its hash; the session ends at logout, after
//! `admin.session_idle_secs` without a request, or `admin.session_max_age_secs` after the login.
//! Every action (a POST) must carry the CSRF token, an HMAC of the session's secret under the
//! admin token, so it differs per session and dies with it.
//!
//! A session also ends with the admin token that opened it: its row keeps the token's
//! fingerprint ([`token_fingerprint`]), and a request whose session was opened under another
//! token is sent to the login page. Rotating the token (a leak, a departing operator) so logs
//! out every browser, without a step of its own.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use paylink_core::store::admin_session;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::routes::auth::{self, Bearer, Refusal, same_secret};
use crate::routes::state::AppState;

/// The cookie's name over plain http (path `/admin`).
const COOKIE: &str = "paylink_admin";
/// Its name under https: the `__Host-` prefix makes the browser insist on `Secure`, `Path=/`
/// and no `Domain`, so no other host or path can plant or shadow it.
const HOST_COOKIE: &str = "__Host-paylink_admin";

/// Who is asking: the request's credential, set by [`require_admin`] for the handlers.
#[derive(Clone, Debug)]
pub enum Admin {
    /// The admin token as a bearer token (no browser sends it by itself, so no CSRF risk, but
    /// forms fetched with it still carry a token: one fixed per admin token).
    Bearer,
    /// A logged-in browser: the session's secret.
    Session(String),
}

impl Admin {
    fn csrf(&self, state: &AppState) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(state.admin_token.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        match self {
            Self::Bearer => mac.update(b"paylink admin csrf, bearer"),
            Self::Session(secret) => {
                mac.update(b"paylink admin csrf, session ");
                mac.update(secret.as_bytes());
            }
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The admin token's fingerprint, kept with each session it opens: HMAC-SHA256 of a fixed
/// label under the token, hex. One-way and keyed by the token itself, so the table never holds
/// the token or anything that helps guess it (a plain hash of a short token could be searched).
pub fn token_fingerprint(state: &AppState) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.admin_token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"paylink admin session, token fingerprint");
    hex::encode(mac.finalize().into_bytes())
}

/// The CSRF token of this request's credential: what pages put in their forms and what
/// actions must bring back.
pub struct Csrf(String);

impl Csrf {
    pub fn token(&self) -> &str {
        &self.0
    }

    /// Whether a form's `csrf` field is this session's token.
    pub fn accepts(&self, presented: &str) -> bool {
        same_secret(presented, &self.0)
    }
}

impl FromRequestParts<AppState> for Csrf {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<Admin>() {
            Some(admin) => Ok(Self(admin.csrf(state))),
            None => Err(login_required()),
        }
    }
}

fn https(state: &AppState) -> bool {
    state.jobs.public_base_url.starts_with("https://")
}

fn cookie_name(state: &AppState) -> &'static str {
    if https(state) { HOST_COOKIE } else { COOKIE }
}

/// The session secret in the request's cookie, if any.
pub fn cookie_secret(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for a new session (or, with `None`, one that ends it).
pub fn set_cookie(state: &AppState, secret: Option<&str>) -> String {
    let attributes = if https(state) {
        "Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/admin; HttpOnly; SameSite=Strict"
    };
    let name = cookie_name(state);
    match secret {
        Some(v) => format!(
            "{name}={v}; Max-Age={}; {attributes}",
            state.sessions.max_age.as_secs()
        ),
        None => format!("{name}=; Max-Age=0; {attributes}"),
    }
}

fn login_required() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Html(super::views::login(None).into_string()),
    )
        .into_response()
}

/// The page for an address that failed too often.
pub fn throttled(retry_after_secs: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after_secs.to_string())],
        Html(
            super::views::login(Some(&format!(
                "Too many failed attempts from your address. Try again in {retry_after_secs} s."
            )))
            .into_string(),
        ),
    )
        .into_response()
}

/// Every `/admin` page and action but the login form: a bearer token or a live session, else
/// 401 with the login page (429 for a wrong bearer token while the address is throttled; the
/// right one always passes).
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admin = match auth::bearer(&state, &parts.headers) {
        Bearer::Admin => Some(Admin::Bearer),
        Bearer::Wrong => match auth::refuse(&state, auth::client(&state, &parts)) {
            Refusal::Throttled(t) => return throttled(t.retry_after_secs),
            Refusal::Wrong => None,
        },
        Bearer::Absent => match cookie_secret(&state, &parts.headers) {
            Some(secret) => match admin_session::check(
                &state.db,
                &secret,
                &token_fingerprint(&state),
                state.sessions,
            )
            .await
            {
                Ok(true) => Some(Admin::Session(secret)),
                Ok(false) => None,
                Err(e) => return super::page::AdminError::from(e).into_response(),
            },
            None => None,
        },
    };
    let Some(admin) = admin else {
        return login_required();
    };
    parts.extensions.insert(admin);
    next.run(Request::from_parts(parts, body)).await
}
