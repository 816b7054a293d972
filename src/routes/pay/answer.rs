//! How the pay pages answer: a payer's page (never cached; a 503 says when to try again), the
//! redirect to Stripe, and what a click's shared mint came to.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::routes::pages;

/// What a click's mint came to, as every click that shared it is answered.
#[derive(Clone, Debug)]
pub enum ClickMint {
    Redirect(String),
    /// Not minted yet (the retries ran out, the order moved on, Stripe refused the key).
    Preparing,
    /// Stripe refused the link: the order's link is failed now.
    Failed,
    /// The database or something else of paylink's failed; logged.
    Unavailable,
}

impl IntoResponse for ClickMint {
    fn into_response(self) -> Response {
        match self {
            Self::Redirect(url) => redirect(&url),
            Self::Preparing => page(StatusCode::SERVICE_UNAVAILABLE, pages::preparing()),
            Self::Failed => page(StatusCode::SERVICE_UNAVAILABLE, pages::failed()),
            Self::Unavailable => page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable()),
        }
    }
}

pub(super) fn redirect(url: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// A payer's page: never cached, and a 503 says when to try again.
pub fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}
