//! `/admin/products`: the products with their ids, and "New product" (the same code as
//! `POST /v1/products`, so a second product of the same name and category is refused here too,
//! with a link to the first).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use paylink_core::products::{self as core_products, ProductError};
use paylink_core::store::product;
use serde::Deserialize;

use super::csrf::{Checked, Form};
use super::page::{Page, html, param};
use super::session::Csrf;
use super::views::{self, ProductOutcome};
use crate::routes::state::AppState;

/// The newest products the page shows.
const SHOWN: u64 = 500;

pub(super) async fn page(
    State(state): State<AppState>,
    csrf: Csrf,
    RawQuery(query): RawQuery,
) -> Page {
    let created = match param(query.as_deref(), "created") {
        Some(id) => product::find(&state.db, &id).await?,
        None => None,
    };
    render(&state, &csrf, created.as_ref().map(ProductOutcome::Created)).await
}

#[derive(Deserialize)]
pub(super) struct NewProduct {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    currency: String,
}

/// Creates the product and shows it (303 to the page); a duplicate (409) or a bad field (422)
/// is shown on the page instead, and nothing is created.
pub(super) async fn create(
    State(state): State<AppState>,
    Checked {
        csrf,
        form: Form(form),
    }: Checked<Form<NewProduct>>,
) -> Page {
    let created =
        core_products::create(&state.db, &form.name, &form.category, &form.currency).await;
    let (status, page) = match created {
        Ok(p) => {
            tracing::info!(product_id = %p.id, "operator created a product");
            let to = format!("/admin/products?created={}", p.id);
            return Ok(Redirect::to(&to).into_response());
        }
        Err(ProductError::Duplicate(first)) => (
            StatusCode::CONFLICT,
            render(&state, &csrf, Some(ProductOutcome::Duplicate(&first))).await?,
        ),
        Err(ProductError::Invalid(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&state, &csrf, Some(ProductOutcome::Invalid(&e.message))).await?,
        ),
        Err(ProductError::Database(e)) => return Err(e.into()),
    };
    Ok((status, page).into_response())
}

async fn render(state: &AppState, csrf: &Csrf, outcome: Option<ProductOutcome<'_>>) -> Page {
    let mut rows = product::list(&state.db, 0, SHOWN + 1).await?;
    let has_more = rows.len() as u64 > SHOWN;
    rows.truncate(SHOWN as usize);
    Ok(html(views::products(
        csrf.token(),
        &rows,
        has_more,
        outcome,
    )))
}
