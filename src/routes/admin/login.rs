//! Logging in to the dashboard with the admin token, and out again.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use paylink_core::store::admin_session;
use serde::Deserialize;

use super::csrf::{Button, Checked, Form};
use super::form::AdminForm;
use super::page::{Page, html};
use super::session::{self, Admin};
use super::views;
use crate::routes::auth;
use crate::routes::state::AppState;

pub(super) async fn login_page() -> Response {
    html(views::login(None))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    token: String,
}

/// A login: the right token always opens a session; a wrong one is counted against the
/// address like a wrong bearer token, and refused with 429 once it has failed too often.
pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfoParts(addr): ConnectInfoParts,
    AdminForm(form): AdminForm<LoginForm>,
) -> Page {
    if !auth::is_admin_token(&state, &form.token) {
        return Ok(match auth::refuse(&state, addr) {
            auth::Refusal::Throttled(t) => session::throttled(t.retry_after_secs),
            auth::Refusal::Wrong => (
                StatusCode::UNAUTHORIZED,
                Html(views::login(Some("That is not the admin token.")).into_string()),
            )
                .into_response(),
        });
    }
    let secret = admin_session::open(
        &state.db,
        &session::token_fingerprint(&state),
        state.sessions,
    )
    .await?;
    tracing::info!(client = ?addr, "admin logged in to the dashboard");
    let cookie = session::set_cookie(&state, Some(&secret));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin")).into_response())
}

/// The client address of a request, as the throttle sees it.
pub(super) struct ConnectInfoParts(Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ConnectInfoParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(auth::client(state, parts)))
    }
}

/// Ends the session at the server (the cookie stops working, wherever a copy of it is) and in
/// the browser.
pub(super) async fn logout(
    State(state): State<AppState>,
    admin: axum::Extension<Admin>,
    _: Checked<Form<Button>>,
) -> Page {
    if let Admin::Session(secret) = &admin.0 {
        admin_session::close(&state.db, secret).await?;
    }
    let cookie = session::set_cookie(&state, None);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin/login")).into_response())
}
