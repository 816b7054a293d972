//! The intake's HTTP surface, one file per resource.

mod admin;
pub(crate) mod auth;
pub(crate) mod blasts;
mod error;
mod extract;
mod health;
pub(crate) mod metrics;
mod orders;
mod pages;
mod pay;
mod products;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::startup::AppState;

pub use error::ApiError;

/// Every route, with bearer-token auth on `/v1/*`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/products", post(products::create))
        .route("/v1/orders", post(orders::create))
        .route("/v1/orders/{id}", get(orders::show).patch(orders::update))
        .route("/v1/orders/{id}/cancel", post(orders::cancel))
        .route(
            "/v1/blasts",
            post(blasts::create).layer(DefaultBodyLimit::max(blasts::MAX_BODY_BYTES)),
        )
        .route("/v1/blasts/{id}", get(blasts::show))
        .route("/v1/blasts/{id}/orders", get(blasts::orders))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin_token));
    Router::new()
        .merge(api)
        .route("/pay/{token}", get(pay::click))
        .route("/pay/{token}/thanks", get(pay::thanks))
        .route(
            "/webhooks/stripe",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES)),
        )
        .merge(admin::router(state.clone()))
        .route("/metrics", get(metrics::render))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(error::not_found)
        .with_state(state)
}
