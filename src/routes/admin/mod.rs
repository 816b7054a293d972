//! `/admin`: the operator's dashboard. Pages read the tables (so they show every process's
//! work); actions are conditional updates that put work back through the backlog, the feeder
//! and the Stripe limit, never around them.

mod blast_upload;
mod csrf;
mod failures;
mod form;
mod login;
mod notice;
mod order_page;
mod orders;
mod overview;
mod page;
mod products;
mod session;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::routes::state::AppState;

/// A blast's file, uploaded or carried back by the confirm form (base64 and form-encoded, so
/// larger than the file): the API's limit for a blast's body, with room for the encoding.
const UPLOAD_BYTES: usize = crate::routes::blasts::MAX_BODY_BYTES * 2;

pub fn router(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/admin", get(overview::overview))
        .route("/admin/blasts", get(overview::blasts))
        .route(
            "/admin/products",
            get(products::page).post(products::create),
        )
        .route("/admin/blasts/new", get(blast_upload::new_page))
        .route(
            "/admin/blasts/preview",
            post(blast_upload::preview).layer(DefaultBodyLimit::max(UPLOAD_BYTES)),
        )
        .route(
            "/admin/blasts/create",
            post(blast_upload::create).layer(DefaultBodyLimit::max(UPLOAD_BYTES)),
        )
        .route("/admin/blasts/{id}", get(overview::blast_page))
        .route("/admin/blasts/{id}/links.csv", get(blast_upload::links))
        .route("/admin/failures", get(failures::failures))
        .route("/admin/failures/retry", post(failures::retry_matching))
        .route("/admin/orders", get(orders::search))
        .route("/admin/orders.csv", get(orders::export))
        .route("/admin/orders/{id}", get(order_page::page))
        .route("/admin/orders/{id}/amount", post(order_page::change_amount))
        .route("/admin/orders/{id}/retry", post(failures::retry_one))
        .route("/admin/orders/{id}/cancel", post(failures::cancel))
        .route(
            "/admin/orders/{id}/send_email",
            post(order_page::send_email),
        )
        .route(
            "/admin/orders/{id}/payer_email",
            post(order_page::change_payer_email),
        )
        .route("/admin/events/{id}/replay", post(failures::replay))
        .route("/admin/webhooks", get(webhooks::page))
        .route(
            "/admin/webhooks/deliveries/{id}/resend",
            post(webhooks::resend),
        )
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay))
        .route("/admin/logout", post(login::logout))
        .route_layer(from_fn_with_state(state, session::require_admin));
    Router::new()
        .route("/admin/login", get(login::login_page).post(login::login))
        .merge(guarded)
}
