//! `POST /v1/products`, `GET /v1/products` (newest first, in pages) and `GET /v1/products/{id}`:
//! a product id that was lost is found again rather than made anew (and `POST` refuses a second
//! product of the same name and category, naming the first).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use paylink_core::store::product;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::paging::PageQuery;
use crate::routes::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    name: String,
    category: String,
    currency: String,
}

/// 201 with the product; 409 naming the existing one when a product of the same name (case
/// and spacing aside) and category exists (`core/src/products.rs`).
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewProduct>,
) -> Result<(StatusCode, Json<product::Model>), ApiError> {
    let created =
        paylink_core::products::create(&state.db, &body.name, &body.category, &body.currency)
            .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `{data, page, per_page, has_more}`, newest product first.
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = query.request()?;
    let (found, has_more) =
        page.split(product::list(&state.db, page.offset(), page.fetch()).await?);
    Ok(Json(json!({
        "data": found, "page": page.number(), "per_page": page.size(), "has_more": has_more,
    })))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<product::Model>, ApiError> {
    product::find(&state.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no product {id:?}")))
}
