//! The one CSRF check of the dashboard: every action (a POST from a logged-in browser) takes
//! its form through [`Checked`], which refuses it with 403 unless the form's `csrf` field is
//! this credential's token ([`Csrf`]). A handler that takes `Checked` cannot forget the check,
//! and a form the dashboard cannot read is answered as [`AdminForm`] answers it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::form::AdminForm;
use super::session::Csrf;
use crate::routes::state::AppState;

/// A dashboard form as an action reads it: the CSRF token it carried, and the rest.
pub trait Posted: Sized {
    /// Reads the form from the request; a page that says why when it cannot be read.
    fn read(
        request: Request,
        state: &AppState,
    ) -> impl Future<Output = Result<(String, Self), Response>> + Send;
}

/// An action's form, read once its CSRF token was checked: the token (pages built in answer put
/// it in their own forms) and the form.
pub struct Checked<F> {
    pub csrf: Csrf,
    pub form: F,
}

impl<F: Posted + Send> FromRequest<AppState> for Checked<F> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let csrf = Csrf::from_request_parts(&mut parts, state).await?;
        let (presented, form) = F::read(Request::from_parts(parts, body), state).await?;
        if !csrf.accepts(&presented) {
            return Err(refused());
        }
        Ok(Self { csrf, form })
    }
}

/// A form posted as `application/x-www-form-urlencoded`: its `csrf` field, and the others as
/// `T` (every field a string, as forms send them).
pub struct Form<T>(pub T);

/// A form that carries nothing but its CSRF token (a button).
#[derive(Deserialize)]
pub struct Button {}

#[derive(Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> Posted for Form<T> {
    async fn read(request: Request, state: &AppState) -> Result<(String, Self), Response> {
        let AdminForm(posted) = AdminForm::<WithToken<T>>::from_request(request, state).await?;
        Ok((posted.csrf, Self(posted.fields)))
    }
}

fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<h1>Refused</h1><p>This form did not come from the dashboard (missing or invalid CSRF token). Reload the page and try again.</p>"),
    )
        .into_response()
}
