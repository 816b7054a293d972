//! `GET /metrics`: Prometheus's text format. Counters and histograms are this process's (jobs
//! by type and outcome, Stripe requests by endpoint and status with their latency, webhooks by
//! result); the gauges (orders by state, queue depth, backlog, webhook deliveries by state) are the deployment's, read from
//! the database and the queue by the first scrape after [`GAUGES_TTL`] and reused until then,
//! so scrapes (however many, however often) cost the database one `GROUP BY` per interval. No
//! admin token: it holds no payer data.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use paylink_core::JobQueue;
use paylink_core::jobs;
use paylink_core::store::{blast, dashboard, outbound_delivery, webhook_endpoint};
use sea_orm::DatabaseConnection;

/// How long one read of the deployment's gauges serves every scrape.
pub const GAUGES_TTL: Duration = Duration::from_secs(5);

/// The deployment's gauges as Prometheus text, and when they were read. One per intake (in
/// `AppState`) and one per worker process's metrics listener.
#[derive(Default)]
pub struct GaugeCache {
    latest: tokio::sync::Mutex<Option<(Instant, Arc<str>)>>,
}

impl GaugeCache {
    /// The cached text while it is younger than [`GAUGES_TTL`], else what `read` gives, kept
    /// for the next scrapes. Scrapes that arrive while one reads wait for it (the lock is held
    /// across the read) and take its result, rather than each reading again.
    async fn get_or_read<F, Fut>(&self, read: F) -> Arc<str>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = String>,
    {
        let mut latest = self.latest.lock().await;
        if let Some((at, text)) = latest.as_ref()
            && at.elapsed() < GAUGES_TTL
        {
            return text.clone();
        }
        let text: Arc<str> = read().await.into();
        *latest = Some((Instant::now(), text.clone()));
        text
    }
}

/// What a scrape reads: the deployment's database and queue, and the cache of their gauges.
/// The intake takes it from its state (`routes/state.rs`); a worker's listener has its own.
#[derive(Clone)]
pub struct Scrape {
    pub db: DatabaseConnection,
    pub queue: JobQueue,
    pub gauges: Arc<GaugeCache>,
}

pub async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    text(&scrape.db, &scrape.queue, &scrape.gauges).await
}

/// `/metrics` alone, for a `paylink work` process (`workers.metrics_addr`): its own job and
/// Stripe counters, and the deployment's gauges.
pub fn worker_router(db: DatabaseConnection, queue: JobQueue) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Scrape {
            db,
            queue,
            gauges: Arc::default(),
        })
}

async fn text(
    db: &DatabaseConnection,
    queue: &JobQueue,
    gauges: &GaugeCache,
) -> impl IntoResponse + use<> {
    let mut body = crate::telemetry::metrics().render();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&gauges.get_or_read(|| read_gauges(db, queue)).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Reads the gauges. One that cannot be read (the database or the queue is down) is left out
/// rather than shown stale.
async fn read_gauges(db: &DatabaseConnection, queue: &JobQueue) -> String {
    let mut out = String::new();
    if let Ok(c) = blast::counts_where(db, None).await {
        gauge_family(
            &mut out,
            "paylink_orders",
            "Orders by the state of their link.",
            [
                ("minting", c.minting),
                ("active", c.active),
                ("failed", c.failed),
                ("deactivated", c.deactivated),
            ]
            .map(|(state, n)| (format!("{{link_state=\"{state}\"}}"), n)),
        );
        gauge_family(
            &mut out,
            "paylink_orders_paid",
            "Orders paid.",
            [(String::new(), c.paid)],
        );
        gauge_family(
            &mut out,
            "paylink_orders_cancelled",
            "Orders cancelled.",
            [(String::new(), c.cancelled)],
        );
    }
    let mut due = Vec::new();
    for (queue, depth) in jobs::queue_depths(queue).await {
        if let Ok(depth) = depth {
            due.push((format!("{{queue=\"{queue}\"}}"), depth));
        }
    }
    gauge_family(&mut out, "paylink_queue_due", "Jobs due per queue.", due);
    if let Ok(counts) = outbound_delivery::count_by_state(db).await {
        gauge_family(
            &mut out,
            "paylink_outbound_deliveries",
            "Webhook deliveries to the host application by state.",
            [
                ("pending", counts.pending),
                ("delivered", counts.delivered),
                ("failed", counts.failed),
            ]
            .map(|(state, n)| (format!("{{state=\"{state}\"}}"), n)),
        );
    }
    if let Ok(failing) = webhook_endpoint::count_failing(db).await {
        gauge_family(
            &mut out,
            "paylink_outbound_endpoints_failing",
            "Webhook endpoints whose last delivery ran out of tries.",
            [(String::new(), failing)],
        );
    }
    if let Ok(backlog) = dashboard::backlog(db).await {
        gauge_family(
            &mut out,
            "paylink_backlog_orders",
            "Orders waiting in the database for room in the queue.",
            [(String::new(), backlog)],
        );
    }
    out
}

/// One gauge family in Prometheus's text format; nothing when it has no samples. Labels are
/// fixed strings of this module (states, queue names), so they need no escaping.
fn gauge_family<N: std::fmt::Display>(
    out: &mut String,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, N)>,
) {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Scrapes at once, and scrapes within the interval, share one read.
    #[tokio::test]
    async fn concurrent_and_repeated_scrapes_read_once_per_interval() {
        let cache = GaugeCache::default();
        let reads = AtomicUsize::new(0);
        let read = || async {
            let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
            // Slow enough that the other scrapes arrive while this one reads.
            tokio::time::sleep(Duration::from_millis(50)).await;
            format!("read {n}\n")
        };
        let texts = tokio::join!(
            cache.get_or_read(read),
            cache.get_or_read(read),
            cache.get_or_read(read),
            cache.get_or_read(read),
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        for text in [texts.0, texts.1, texts.2, texts.3] {
            assert_eq!(&*text, "read 1\n");
        }
        assert_eq!(&*cache.get_or_read(read).await, "read 1\n");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn gauges_are_prometheus_text() {
        let mut out = String::new();
        gauge_family(&mut out, "g", "Help.", [("{q=\"a\"}".to_owned(), 3)]);
        gauge_family(&mut out, "empty", "Nothing.", Vec::<(String, u64)>::new());
        assert_eq!(out, "# HELP g Help.\n# TYPE g gauge\ng{q=\"a\"} 3\n");
    }
}
