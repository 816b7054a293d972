//! `POST /v1/products`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paylink_workers::store::product::{self, CATEGORIES};
use serde::Deserialize;

use super::extract::JsonBody;
use super::{ApiError, validate};
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    name: String,
    category: String,
    currency: String,
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewProduct>,
) -> Result<(StatusCode, Json<product::Model>), ApiError> {
    let name = validate::text("name", &body.name, 200)?;
    if !CATEGORIES.contains(&body.category.as_str()) {
        return Err(ApiError::validation(
            "category",
            format!(
                "{:?} is not one of {}",
                body.category,
                CATEGORIES.join(", ")
            ),
        ));
    }
    let currency = validate::currency("currency", &body.currency)?;
    let created = product::insert(&state.db, &name, &body.category, &currency).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
