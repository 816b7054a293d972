//! The API's errors: `{"error": {"code", "message"}}` with the fitting status. Causes of
//! unexpected errors are logged once, never sent to the caller. What axum answers by itself (a
//! 405, an extractor's rejection) is put in the same shape by [`json_errors`].

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use paylink_core::blasts::BlastError;
use paylink_core::domain::FieldError;
use paylink_core::emails::MailError;
use paylink_core::event_intake;
use paylink_core::orders::{ChangeError, CreateError};
use paylink_core::outbound::endpoints::EndpointError;
use paylink_core::products::ProductError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not the JSON this endpoint takes.
    #[error("{0}")]
    BadRequest(String),
    /// A field failed validation; the message names it.
    #[error("{message}")]
    Validation { field: String, message: String },
    /// Rows of a blast failed validation; nothing was created.
    #[error("{total} row(s) are invalid; nothing was created")]
    InvalidRows {
        rows: Vec<paylink_core::blasts::RowError>,
        total: usize,
    },
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Too many failed credentials from this address (docs/security.md).
    #[error("too many failed attempts from your address; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("{0}")]
    NotFound(String),
    /// The body is not in a format this endpoint takes (JSON without `Content-Type: application/json`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The path exists but not with this method; the `Allow` header lists those it takes.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request contradicts what is stored (same external_ref, different order).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the endpoint takes.
    #[error("{0}")]
    TooLarge(String),
    /// A dependency (the database) is unavailable: retry later.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: format!("{field}: {}", message.into()),
        }
    }

    /// A body over the route's limit (docs/api.md, "HTTP API": 2 MiB, `/v1/blasts` 16 MiB).
    pub fn too_large() -> Self {
        Self::TooLarge("the request body is larger than this endpoint accepts".into())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Validation { .. } | Self::InvalidRows { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            }
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Validation {
            field: error.field,
            message: error.message,
        }
    }
}

impl From<BlastError> for ApiError {
    fn from(error: BlastError) -> Self {
        match error {
            BlastError::InvalidRows(rows, total) => Self::InvalidRows { rows, total },
            BlastError::Invalid(field) => field.into(),
            BlastError::Database(e) => e.into(),
        }
    }
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Invalid(field, message) => Self::validation(field, message),
            // 400: the URL is well formed; what it points at is not allowed.
            EndpointError::NotPublic(_) => Self::BadRequest(e.to_string()),
            EndpointError::TooMany => Self::Conflict(e.to_string()),
            EndpointError::NotFound(_)
            | EndpointError::NoDelivery(_)
            | EndpointError::NoReplay(_) => Self::NotFound(e.to_string()),
            EndpointError::Database(db) => db.into(),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound(_) => Self::NotFound(e.to_string()),
            ChangeError::NotPending(..) | ChangeError::Raced(_) => Self::Conflict(e.to_string()),
            ChangeError::Database(db) => db.into(),
        }
    }
}

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        match e {
            ProductError::Invalid(field) => field.into(),
            ProductError::Duplicate(_) => Self::Conflict(e.to_string()),
            ProductError::Database(db) => db.into(),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Invalid(field) => field.into(),
            CreateError::Conflict { .. } => Self::Conflict(e.to_string()),
            CreateError::Database(db) => db.into(),
        }
    }
}

impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Off => Self::validation("send_email", e.to_string()),
            MailError::NotFound(_) => Self::NotFound(e.to_string()),
            MailError::NotPending(..) => Self::Conflict(e.to_string()),
            MailError::Invalid(field) => field.into(),
            MailError::Database(db) => db.into(),
        }
    }
}

impl From<event_intake::Unavailable> for ApiError {
    fn from(e: event_intake::Unavailable) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                tracing::error!(error = %err, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly".into())
            }
            other => Self::Unexpected(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Unexpected(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let Self::Validation { field, .. } = &self {
            body["error"]["field"] = json!(field);
        }
        if let Self::InvalidRows { rows, .. } = &self {
            body["error"]["rows"] = json!(rows);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        if let Self::Throttled { retry_after_secs } = self {
            response.headers_mut().insert(
                "retry-after",
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The routers' `method_not_allowed_fallback`: axum adds the `Allow` header to this answer.
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed here; the Allow header lists the methods that are"
    ))
}

/// The longest framework error text read back (axum's own are a line or two).
const MAX_FRAMEWORK_TEXT: usize = 16 * 1024;

/// A layer for `/v1` and `/webhooks`: an error answer that is not JSON already (axum's plain
/// text rejection of a path or query it could not parse, an empty 405 or 415) becomes
/// `{"error": {"code", "message"}}` with the same status and headers (`Allow` stays). Its text
/// is the message for a client error; a server error's text is logged and replaced, since it
/// speaks of paylink's insides rather than the request.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_FRAMEWORK_TEXT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error");
    let message = if status.is_server_error() {
        tracing::error!(status = status.as_u16(), %path, answer = %text, "the framework answered an error");
        reason.to_owned()
    } else if text.is_empty() {
        reason.to_owned()
    } else {
        text
    };
    let body = json!({"error": {"code": framework_code(status), "message": message}});
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// The API's code for a status, the same as [`ApiError`]'s where both answer it.
fn framework_code(status: StatusCode) -> String {
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        StatusCode::TOO_MANY_REQUESTS => "too_many_attempts",
        StatusCode::INTERNAL_SERVER_ERROR => "internal",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        other => {
            return other
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase()
                .replace([' ', '-'], "_");
        }
    };
    code.to_owned()
}
