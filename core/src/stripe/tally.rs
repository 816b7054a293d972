//! Counts of Stripe requests for the dashboard and `/metrics`. Every request is counted in
//! this process's metrics registry (for Prometheus) and in a per-minute tally that
//! [`Tally::flush`] adds to the `stripe_minutes` table about once a second, so the dashboard's
//! "requests per minute" covers every process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::StripeFailure;
use crate::store::stripe_minute;

/// Requests and 429s per minute.
type PerMinute = BTreeMap<DateTime<Utc>, (i64, i64)>;

/// Requests and 429s per minute, not yet written to the database.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pending: Arc<Mutex<PerMinute>>,
}

impl Tally {
    /// Counts one finished request to `endpoint` that took `elapsed`.
    pub fn record<T>(
        &self,
        endpoint: &'static str,
        result: &Result<T, StripeFailure>,
        elapsed: Duration,
    ) {
        let status = match result {
            Ok(_) => "200".to_owned(),
            Err(
                StripeFailure::RetryLater { status, .. }
                | StripeFailure::Server { status, .. }
                | StripeFailure::Refused { status, .. }
                | StripeFailure::KeyRefused { status, .. },
            ) => status.to_string(),
            Err(StripeFailure::Unreachable(_)) => "unreachable".to_owned(),
        };
        let rate_limited = i64::from(status == "429");
        metrics::counter!("paylink_stripe_requests_total", "endpoint" => endpoint, "status" => status)
            .increment(1);
        metrics::histogram!("paylink_stripe_request_seconds", "endpoint" => endpoint)
            .record(elapsed.as_secs_f64());
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = pending
            .entry(stripe_minute::minute_of(Utc::now()))
            .or_default();
        entry.0 += 1;
        entry.1 += rate_limited;
    }

    /// Adds the pending counts to the database; on failure they are kept for the next try.
    pub async fn flush(&self, db: &DatabaseConnection) -> anyhow::Result<()> {
        let taken = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (i, (minute, (requests, rate_limited))) in taken.iter().enumerate() {
            if let Err(e) = stripe_minute::add(db, *minute, *requests, *rate_limited).await {
                let mut pending = self
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (minute, (r, l)) in taken.into_iter().skip(i) {
                    let entry = pending.entry(minute).or_default();
                    entry.0 += r;
                    entry.1 += l;
                }
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Flushes every second until the process ends.
    pub fn spawn_flusher(&self, db: DatabaseConnection) {
        let tally = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = tally.flush(&db).await {
                    tracing::debug!(error = %format!("{e:#}"), "Stripe counts not written yet");
                }
            }
        });
    }
}
