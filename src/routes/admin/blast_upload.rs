//! The first blast from the dashboard: upload a CSV file (`/admin/blasts/new`), read its
//! preview (totals, warnings, problems by line), confirm, and land on the blast's page with its
//! links file (`/admin/blasts/{id}/links.csv`).
//!
//! The confirm form carries the uploaded file itself (base64, with its SHA-256 so a mangled copy
//! is refused), never a summary: the server reads and checks it again before creating anything,
//! exactly as `paylink blast` does (docs/api.md, "Billing blasts").

use std::path::Path;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{FromRequest, Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use paylink_core::blasts::{self, BlastError};
use paylink_core::store::blast;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::csrf::{Checked, Form, Posted};
use super::page::{AdminError, Page, html, not_found, problem_response};
use super::session::Csrf;
use super::views::{self, path_segment};
use crate::blast_csv;
use crate::blast_export;
use crate::blast_preview::file_problems;
use crate::routes::state::AppState;

pub async fn new_page(csrf: Csrf) -> Response {
    html(views::upload_page(csrf.token(), None))
}

/// The upload as read from the form: the file's name, its content, the blast's name.
pub struct Upload {
    name: String,
    file_name: String,
    content: Vec<u8>,
}

/// `POST /admin/blasts/preview` (multipart): the file's preview, or its problems by line.
pub async fn preview(
    State(state): State<AppState>,
    Checked { csrf, form: upload }: Checked<Upload>,
) -> Page {
    checked_page(&state, &csrf, upload).await
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    file_name: String,
    /// The uploaded file, base64.
    #[serde(default)]
    csv: String,
    #[serde(default)]
    sha256: String,
}

/// `POST /admin/blasts/create`: the previewed file checked again, then the blast created.
pub async fn create(
    State(state): State<AppState>,
    Checked {
        csrf,
        form: Form(form),
    }: Checked<Form<ConfirmForm>>,
) -> Page {
    let content = base64::engine::general_purpose::STANDARD
        .decode(form.csv.as_bytes())
        .ok()
        .filter(|content| hex::encode(Sha256::digest(content)) == form.sha256);
    let Some(content) = content else {
        return Ok(bad_request(
            "The file sent with the confirmation is not the one previewed. Upload it again.",
        ));
    };
    let upload = Upload {
        name: form.name,
        file_name: form.file_name,
        content,
    };
    let parsed = match blast_csv::parse(Path::new(&upload.file_name), upload.content.as_slice()) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(unprocessable_upload(&csrf, &e.0)),
    };
    let problems = problems_or_refusal(&state, &upload.name, &parsed).await?;
    if problems.as_ref().is_none_or(|p| !p.is_empty()) {
        return checked_page(&state, &csrf, upload).await;
    }
    match blasts::create(&state.db, &upload.name, parsed.orders).await {
        Ok(created) => {
            tracing::info!(blast_id = %created.id, created = created.created, "blast created from the dashboard");
            Ok(
                Redirect::to(&format!("/admin/blasts/{}", path_segment(&created.id)))
                    .into_response(),
            )
        }
        // Found since the check (another blast stored a row meanwhile): show it by line.
        Err(BlastError::InvalidRows(..) | BlastError::Invalid(_)) => {
            checked_page(&state, &csrf, upload).await
        }
        Err(BlastError::Database(e)) => Err(e.into()),
    }
}

/// The file read and checked: its problems by line (422), or its preview with the confirm form.
async fn checked_page(state: &AppState, csrf: &Csrf, upload: Upload) -> Page {
    let parsed = match blast_csv::parse(Path::new(&upload.file_name), upload.content.as_slice()) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(unprocessable_upload(csrf, &e.0)),
    };
    let problems = match problems_or_refusal(state, &upload.name, &parsed).await? {
        Some(problems) => problems,
        None => {
            return Ok(unprocessable_upload(
                csrf,
                &format!("{} has no data rows.", upload.file_name),
            ));
        }
    };
    if !problems.is_empty() {
        let page = views::problems_page(csrf.token(), &upload.file_name, &problems);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page)).into_response());
    }
    let preview = match blasts::preview(&state.db, &upload.name, &parsed.orders).await {
        Ok(preview) => preview,
        Err(BlastError::Database(e)) => return Err(e.into()),
        Err(e) => return Ok(unprocessable_upload(csrf, &e.to_string())),
    };
    let carried = views::Carried {
        name: &upload.name,
        file_name: &upload.file_name,
        csv: base64::engine::general_purpose::STANDARD.encode(&upload.content),
        sha256: hex::encode(Sha256::digest(&upload.content)),
    };
    Ok(html(views::preview_page(
        csrf.token(),
        &preview,
        &parsed,
        &carried,
    )))
}

/// The file's problems by line; `None` when the blast itself cannot be (no rows, too many, no
/// name), said on the upload page.
async fn problems_or_refusal(
    state: &AppState,
    name: &str,
    parsed: &blast_csv::Parsed,
) -> Result<Option<Vec<blast_csv::Problem>>, AdminError> {
    if parsed.orders.is_empty() && parsed.problems.is_empty() {
        return Ok(None);
    }
    match file_problems(&state.db, name, parsed).await {
        Ok(problems) => Ok(Some(problems)),
        Err(BlastError::Database(e)) => Err(e.into()),
        Err(BlastError::Invalid(problem)) => Ok(Some(vec![blast_csv::Problem {
            line: 0,
            message: problem.message,
        }])),
        Err(BlastError::InvalidRows(..)) => Ok(Some(Vec::new())),
    }
}

/// The upload form is multipart (it carries a file): its CSRF token is one of its fields.
impl Posted for Upload {
    async fn read(request: Request, state: &AppState) -> Result<(String, Self), Response> {
        read_upload(Multipart::from_request(request, state).await).await
    }
}

/// The multipart form's fields (its CSRF token, and the upload); a refusal page when it cannot
/// be read.
async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, Upload), Response> {
    let mut multipart = multipart.map_err(|e| refused(e.status(), &e.body_text()))?;
    let mut csrf = String::new();
    let mut upload = Upload {
        name: String::new(),
        file_name: String::new(),
        content: Vec::new(),
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| refused(e.status(), &e.body_text()))?
    {
        let field_name = field.name().unwrap_or_default().to_owned();
        if field_name == "file" {
            upload.file_name = field.file_name().unwrap_or_default().to_owned();
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| refused(e.status(), &e.body_text()))?;
        match field_name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "name" => upload.name = String::from_utf8_lossy(&bytes).trim().to_owned(),
            "file" => upload.content = bytes.to_vec(),
            _ => {}
        }
    }
    if upload.file_name.is_empty() {
        upload.file_name = "upload.csv".to_owned();
    }
    if upload.name.is_empty() {
        // Like `paylink blast`: the file's name without its extension.
        upload.name = Path::new(&upload.file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    Ok((csrf, upload))
}

/// `GET /admin/blasts/{id}/links.csv`: every order with its pay URL, as `paylink blast --out`
/// writes it and `GET /v1/blasts/{id}/orders` answers it.
pub async fn links(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Page {
    if blast::find(&state.db, &id).await?.is_none() {
        return Ok(not_found("blast"));
    }
    let rows = blast_export::all_rows(&state.db, &id, |token| state.jobs.pay_url(token)).await?;
    Ok(crate::routes::blasts::csv_response(&id, &rows)?)
}

fn refused(status: StatusCode, message: &str) -> Response {
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "The file is larger than the dashboard accepts.".to_owned()
    } else {
        format!("The upload could not be read: {message}")
    };
    problem_response(status, "Refused", &message)
}

fn bad_request(message: &str) -> Response {
    problem_response(StatusCode::BAD_REQUEST, "Refused", message)
}

fn unprocessable_upload(csrf: &Csrf, message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        html(views::upload_page(csrf.token(), Some(message))),
    )
        .into_response()
}
