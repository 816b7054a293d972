//! `GET /metrics`: Prometheus's text format. Counters and histograms are this process's (jobs
//! by type and outcome, Stripe requests by endpoint and status with their latency, webhooks by
//! result); the gauges (orders by state, queue depth) are read from the database and the
//! queue at scrape time, so they are the deployment's. No admin token: it holds no payer data.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use paylink_core::JobQueue;
use paylink_core::jobs;
use paylink_core::store::{blast, dashboard};
use sea_orm::DatabaseConnection;

use crate::startup::AppState;

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    text(&state.db, &state.queue).await
}

/// `/metrics` alone, for a `paylink work` process (`workers.metrics_addr`): its own job and
/// Stripe counters, and the deployment's gauges.
pub fn worker_router(db: DatabaseConnection, queue: JobQueue) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |State((db, queue)): State<(DatabaseConnection, JobQueue)>| async move {
                    text(&db, &queue).await
                },
            ),
        )
        .with_state((db, queue))
}

async fn text(db: &DatabaseConnection, queue: &JobQueue) -> impl IntoResponse + use<> {
    let handle = crate::telemetry::metrics();
    if let Ok(c) = blast::counts_where(db, None).await {
        for (link_state, n) in [
            ("minting", c.minting),
            ("active", c.active),
            ("failed", c.failed),
            ("deactivated", c.deactivated),
        ] {
            metrics::gauge!("paylink_orders", "link_state" => link_state).set(n as f64);
        }
        metrics::gauge!("paylink_orders_paid").set(c.paid as f64);
        metrics::gauge!("paylink_orders_cancelled").set(c.cancelled as f64);
    }
    for (queue, due) in jobs::queue_depths(queue).await {
        if let Ok(due) = due {
            metrics::gauge!("paylink_queue_due", "queue" => queue).set(due as f64);
        }
    }
    if let Ok(backlog) = dashboard::backlog(db).await {
        metrics::gauge!("paylink_backlog_orders").set(backlog as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}
