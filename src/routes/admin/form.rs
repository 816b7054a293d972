//! The dashboard's form and query string extractors: a form or query the dashboard cannot take
//! is answered with an HTML page that says why, with axum's status (413 for a body over the
//! limit, 400 for a query string that does not fit), never axum's plain text.

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

pub struct AdminForm<T>(pub T);

impl<S, T> FromRequest<S> for AdminForm<T>
where
    axum::Form<T>: FromRequest<S, Rejection = FormRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(refused(&rejection)),
        }
    }
}

fn refused(rejection: &FormRejection) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "The form is larger than the dashboard accepts.".to_owned()
    } else {
        format!("The form could not be read: {}", rejection.body_text())
    };
    super::page::problem_response(status, "Refused", &message)
}

pub struct AdminQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AdminQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(super::page::problem_response(
                rejection.status(),
                "Refused",
                &format!("The address could not be read: {}", rejection.body_text()),
            )),
        }
    }
}
