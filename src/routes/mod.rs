//! The intake's HTTP surface, one file per resource.

mod admin;
pub(crate) mod auth;
pub(crate) mod blasts;
pub(crate) mod client_ip;
pub(crate) mod deadline;
mod error;
mod extract;
mod headers;
mod health;
pub(crate) mod metrics;
mod orders;
mod pages;
mod paging;
pub(crate) mod pay;
mod products;
pub(crate) mod state;
pub(crate) mod throttle;
mod webhook_endpoints;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};

use crate::routes::state::AppState;

pub use error::ApiError;

/// Whether and how the public router serves `/metrics` (docs/security.md, "Metrics").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicMetrics {
    /// Served on `http.metrics_addr` instead ([`metrics_router`]): 404 here.
    No,
    /// The default, with no `http.metrics_addr`: only with the admin token as a bearer token.
    /// The counters hold no payer data, but they do show an outsider the deployment's volume,
    /// failures and Stripe trouble.
    WithToken,
    /// `http.metrics_addr` names `http.addr` itself: served here to anyone, on purpose.
    Open,
}

/// Every route, with bearer-token auth on `/v1/*`, and errors in the API's JSON on `/v1/*` and
/// `/webhooks/*` (a 405 or an extractor's rejection too); `/metrics` as `metrics` says.
pub fn router(state: AppState, metrics: PublicMetrics) -> Router {
    let api = Router::new()
        .route("/v1/products", get(products::list).post(products::create))
        .route("/v1/products/{id}", get(products::show))
        .route("/v1/orders", post(orders::create))
        .route("/v1/orders/{id}", get(orders::show).patch(orders::update))
        .route("/v1/orders/{id}/cancel", post(orders::cancel))
        .route("/v1/orders/{id}/send_email", post(orders::send_email))
        .route(
            "/v1/blasts",
            post(blasts::create).layer(DefaultBodyLimit::max(blasts::MAX_BODY_BYTES)),
        )
        .route("/v1/blasts/{id}", get(blasts::show))
        .route("/v1/blasts/{id}/orders", get(blasts::orders))
        .route(
            "/v1/webhook_endpoints",
            get(webhook_endpoints::list).post(webhook_endpoints::create),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(webhook_endpoints::show).merge(delete(webhook_endpoints::delete)),
        )
        .route(
            "/v1/webhook_endpoints/{id}/rotate_secret",
            post(webhook_endpoints::rotate_secret),
        )
        .route(
            "/v1/webhook_endpoints/{id}/replay",
            post(webhook_endpoints::replay),
        )
        .route(
            "/v1/webhook_endpoints/{id}/replays/{replay_id}",
            get(webhook_endpoints::show_replay),
        )
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin_token))
        .layer(from_fn(error::json_errors));
    let stripe_hooks = Router::new()
        .route(
            "/webhooks/stripe",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES)),
        )
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(from_fn(error::json_errors));
    let public = Router::new()
        .merge(api)
        .merge(stripe_hooks)
        .route("/pay/{token}", get(pay::click))
        .route("/pay/{token}/thanks", get(pay::thanks))
        .merge(admin::router(state.clone()).layer(from_fn(headers::no_store)))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Whoever opens the intake's address in a browser wants the dashboard.
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/admin") }),
        );
    let public = match metrics {
        PublicMetrics::No => public,
        PublicMetrics::WithToken => public.route(
            "/metrics",
            get(metrics::render)
                .layer(from_fn_with_state(state.clone(), auth::require_admin_token)),
        ),
        PublicMetrics::Open => public.route("/metrics", get(metrics::render)),
    };
    public
        .fallback(error::not_found)
        .layer(from_fn(headers::security_headers))
        .layer(from_fn_with_state(
            state.client_ip.clone(),
            client_ip::notice_forwarding,
        ))
        .with_state(state)
}

/// `/metrics` alone, for `http.metrics_addr`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .fallback(error::not_found)
        .with_state(state)
}
