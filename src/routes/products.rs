//! `POST /v1/products`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paylink_core::store::product::{self, CATEGORIES};
use serde::Deserialize;

use super::ApiError;
use super::extract::JsonBody;
use crate::startup::AppState;
use paylink_core::domain::{Currency, text};

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
    let name = text("name", &body.name, 200)?;
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
    let currency = Currency::parse("currency", &body.currency)?.into_inner();
    let created = product::insert(&state.db, &name, &body.category, &currency).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
