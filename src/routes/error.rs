//! The API's errors: `{"error": {"code", "message"}}` with the fitting status. Causes of
//! unexpected errors are logged once, never sent to the caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_core::blasts::BlastError;
use paylink_core::domain::FieldError;
use paylink_core::event_intake;
use paylink_core::orders::{ChangeError, CreateError};
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
    /// Too many failed credentials from this address (README, "Security").
    #[error("too many failed attempts from your address; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("{0}")]
    NotFound(String),
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

    /// A body over the route's limit (README, "HTTP API": 2 MiB, `/v1/blasts` 16 MiB).
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

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound(_) => Self::NotFound(e.to_string()),
            ChangeError::NotPending(..) | ChangeError::Raced(_) => Self::Conflict(e.to_string()),
            ChangeError::Database(db) => db.into(),
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
