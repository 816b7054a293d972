//! How dashboard pages answer: a page, a refusal that says what was wrong, a page that could
//! not be built because the database failed (503), and the query-string reading they share.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use paylink_core::domain::PageRequest;

use super::views;

/// A page that could not be built: the database (or queue) failed.
pub struct AdminError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for AdminError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        tracing::error!(error = %format!("{:#}", self.0), "admin page failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Html("<h1>Unavailable</h1><p>The database did not answer. Try again in a moment.</p>"),
        )
            .into_response()
    }
}

pub type Page = Result<Response, AdminError>;

pub fn html(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

/// The first value of `name` in a query string (none, rather than a refusal, when the query
/// string holds something else).
pub fn param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// 422 with a page that says which parameter was wrong.
pub fn unprocessable(message: &str) -> Response {
    problem_response(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", message)
}

/// A dashboard page that refuses what was sent: `status`, a title and what was wrong.
pub fn problem_response(status: StatusCode, title: &str, message: &str) -> Response {
    (status, Html(views::problem(title, message).into_string())).into_response()
}

pub fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(format!("<h1>Not found</h1><p>No such {what}.</p>")),
    )
        .into_response()
}

/// The page a dashboard listing asks for in its `page` parameter, `size` rows long; a 422 page
/// naming the parameter when it is not a page number.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the handler's answer, returned at once"
)]
pub fn page_of(query: Option<&str>, size: u64) -> Result<PageRequest, Response> {
    PageRequest::parse("page", param(query, "page").as_deref(), size)
        .map_err(|e| unprocessable(&e.message))
}
