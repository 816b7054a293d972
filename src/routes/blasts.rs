//! `POST /v1/blasts`, `GET /v1/blasts/{id}` and `GET /v1/blasts/{id}/orders` (JSON pages, or CSV
//! with `Accept: text/csv`): what the sender needs to reach every payer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paylink_core::store::{blast, order};
use serde::Deserialize;

use paylink_core::views::BlastView;

use super::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::paging::PageQuery;
use crate::blast_export::{ResultRow, all_rows, name_products, to_csv};
use crate::routes::state::AppState;
use paylink_core::blasts;
use paylink_core::domain::{OrderInput, PageRequest};

/// A blast body may hold 10,000 orders.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlastRequest {
    name: String,
    orders: Vec<OrderInput>,
    /// Mail every payer their pay link once it is active.
    #[serde(default)]
    send_email: bool,
    /// The organiser's own text above the mail's button (at most 2,000 characters).
    #[serde(default)]
    email_message: Option<String>,
}

/// `?dry_run=true` creates nothing.
#[derive(Debug, Deserialize)]
pub struct CreateQuery {
    dry_run: Option<String>,
}

/// 202 with the new blast; 200 when nothing was created (the same blast again, or every row
/// already an order: `id` names the blast holding them); with `dry_run=true`, 200 with what
/// would be created ([`blasts::Preview`]), creating nothing.
pub async fn create(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<CreateQuery>,
    JsonBody(body): JsonBody<BlastRequest>,
) -> Result<Response, ApiError> {
    let dry_run = match query.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::validation(
                "dry_run",
                format!("{other:?} is neither true nor false"),
            ));
        }
    };
    let message = paylink_core::emails::checked_message(body.email_message.as_deref())?;
    if body.send_email {
        paylink_core::emails::require(state.jobs.mail.as_deref())?;
    }
    if dry_run {
        let preview = blasts::preview(&state.db, &body.name, &body.orders).await?;
        return Ok(Json(preview).into_response());
    }
    let created = blasts::create(&state.db, &body.name, body.orders).await?;
    if body.send_email {
        // Also when nothing was created (the same blast again): a client retrying a create that
        // failed after the orders were stored still gets the mails asked for.
        paylink_core::store::email::request_for_blast(&state.db, &created.id, message.as_deref())
            .await?;
    }
    let status = if created.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BlastView>, ApiError> {
    let found = BlastView::load(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no blast {id:?}")))?;
    Ok(Json(found))
}

/// JSON: `{data, page, per_page, has_more}`. CSV (`Accept: text/csv`): the same page, or every
/// order when no `page` is given.
pub async fn orders(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let page = query.request()?;
    if blast::find(&state.db, &id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no blast {id:?}")));
    }
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if wants_csv {
        let rows = match query.page {
            Some(_) => page_of(&state, &id, page).await?.0,
            None => all_rows(&state.db, &id, |token| state.jobs.pay_url(token)).await?,
        };
        return csv_response(&id, &rows);
    }
    let (data, has_more) = page_of(&state, &id, page).await?;
    Ok(Json(serde_json::json!({
        "data": data, "page": page.number(), "per_page": page.size(), "has_more": has_more,
    }))
    .into_response())
}

async fn page_of(
    state: &AppState,
    id: &str,
    page: PageRequest,
) -> Result<(Vec<ResultRow>, bool), ApiError> {
    let (found, has_more) =
        page.split(order::list_for_blast(&state.db, id, page.offset(), page.fetch()).await?);
    let mut rows: Vec<ResultRow> = found.into_iter().map(|o| row(state, o)).collect();
    name_products(&state.db, &mut rows).await?;
    Ok((rows, has_more))
}

fn row(state: &AppState, o: order::Model) -> ResultRow {
    let pay_url = state.jobs.pay_url(&o.pay_token);
    ResultRow::new(o, pay_url)
}

/// The CSV as a download (`blast-<id>.csv`), so a browser saves it rather than showing it.
pub(crate) fn csv_response(id: &str, rows: &[ResultRow]) -> Result<Response, ApiError> {
    let body = to_csv(rows)?;
    // Blast ids are `bl_` and hex; anything else is left out of the header rather than quoted.
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    let disposition = format!("attachment; filename=\"blast-{name}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
