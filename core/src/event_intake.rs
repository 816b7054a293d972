//! Stores verified webhook events and enqueues their processing, many deliveries per database
//! round trip.
//!
//! Each delivery hands its event to one batching task and waits for its answer. The task takes
//! whatever deliveries are waiting (up to `MAX_BATCH`), stores them with one multi-row
//! `INSERT … ON CONFLICT DO NOTHING RETURNING id`, answers each delivery as soon as that commits,
//! then enqueues a `stripe_event` job per newly stored event in one Redis round trip, unless the
//! queue's window is full: then the events wait in the database for the workers' feeder (a burst
//! of thousands of due jobs would kill apalis-redis workers). Under load the batches grow by
//! themselves; an idle intake stores a lone delivery at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::jobs::stripe_event::StripeEvent;
use crate::queue::JobQueue;
use crate::store::stripe_event::{self, NewEvent};

/// Deliveries stored by one statement at most.
const MAX_BATCH: usize = 256;
/// Payload bytes per statement at most. A larger statement may go out in two writes, and with
/// Nagle's algorithm on (sqlx sets no TCP_NODELAY) the second waits for PostgreSQL's delayed ACK
/// (~40 ms). Measured with the webhook benchmark: a cap of 12 KiB or more gave a p99 of ~50 ms
/// (about 1% of batches took ~45 ms); 4–8 KiB gave ~11 ms; 6 KiB the best throughput.
const MAX_BATCH_BYTES: usize = 6 * 1024;
/// Batches being stored at once (overlapping round trips to the database).
const CONCURRENT_BATCHES: usize = 8;

struct Delivery {
    event: NewEvent,
    /// Ok(true): stored now; Ok(false): already stored; Err: could not store.
    reply: oneshot::Sender<Result<bool, String>>,
}

/// The handle the webhook route holds.
#[derive(Clone)]
pub struct EventIntake {
    tx: mpsc::Sender<Delivery>,
}

impl EventIntake {
    /// Starts the batching task on the current runtime. At most `window` `stripe_event` jobs
    /// are put in Redis; past that, stored events wait for the workers' feeder.
    pub fn start(db: DatabaseConnection, queue: JobQueue, window: u64) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * CONCURRENT_BATCHES * 4);
        tokio::spawn(run(rx, db, queue, window));
        Self { tx }
    }

    /// Stores the event unless its id is stored already; returns whether this call stored it.
    pub async fn accept(
        &self,
        id: String,
        event_type: String,
        payload: String,
    ) -> Result<bool, Unavailable> {
        let (reply, answer) = oneshot::channel();
        let event = NewEvent {
            id,
            event_type,
            payload,
            source: stripe_event::FROM_WEBHOOK,
        };
        self.tx
            .send(Delivery { event, reply })
            .await
            .map_err(|_| unavailable("the event intake has stopped"))?;
        answer
            .await
            .map_err(|_| unavailable("the event intake dropped the delivery"))?
            .map_err(|cause| {
                tracing::error!(%cause, "failed to store a Stripe event");
                unavailable("cannot store the event now")
            })
    }
}

/// The event could not be stored now; Stripe retries a delivery that was not answered 2xx.
#[derive(Debug, thiserror::Error)]
#[error("{0}; Stripe will retry the delivery")]
pub struct Unavailable(String);

fn unavailable(message: &str) -> Unavailable {
    Unavailable(message.to_owned())
}

async fn run(
    mut rx: mpsc::Receiver<Delivery>,
    db: DatabaseConnection,
    queue: JobQueue,
    window: u64,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
    let gauge = Arc::new(DueGauge {
        state: tokio::sync::Mutex::new((None, 0)),
    });
    while let Some(first) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.event.payload.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(delivery) => {
                    bytes += delivery.event.payload.len();
                    batch.push(delivery);
                }
                Err(_) => break,
            }
        }
        let (db, queue, gauge) = (db.clone(), queue.clone(), gauge.clone());
        tokio::spawn(async move {
            // Decided before storing, so the rows are stamped right in the same INSERT.
            let enqueue_now = gauge.take(&queue, window, batch.len() as u64).await;
            let jobs = store_batch(&db, batch, enqueue_now).await;
            // The database part is what limits concurrency; enqueueing runs beside the next batch.
            drop(permit);
            if enqueue_now {
                enqueue(&db, &queue, jobs).await;
            }
        });
    }
}

/// How many `stripe_event` jobs are due in Redis, asked at most every `FRESH` and counted up
/// locally in between, so that checking the window costs no Redis round trip per batch.
struct DueGauge {
    state: tokio::sync::Mutex<(Option<Instant>, u64)>,
}

const FRESH: Duration = Duration::from_millis(100);

impl DueGauge {
    /// Room left in the window; takes `wanted` of it when there is enough.
    async fn take(&self, queue: &JobQueue, window: u64, wanted: u64) -> bool {
        let mut state = self.state.lock().await;
        if state.0.is_none_or(|at| at.elapsed() > FRESH) {
            // If Redis cannot be asked, assume the window is full: the feeder catches up.
            *state = (
                Some(Instant::now()),
                queue.due::<StripeEvent>().await.unwrap_or(u64::MAX),
            );
        }
        let fits = state.1.saturating_add(wanted) <= window;
        if fits {
            state.1 += wanted;
        }
        fits
    }
}

/// Puts the stored events' jobs on the queue; if that fails, returns the events to the backlog
/// the feeder drains (the rows were stamped as enqueued).
async fn enqueue(db: &DatabaseConnection, queue: &JobQueue, jobs: Vec<StripeEvent>) {
    if jobs.is_empty() {
        return;
    }
    let ids: Vec<String> = jobs.iter().map(|j| j.event_id.to_string()).collect();
    if let Err(e) = queue
        .enqueue_stamped(jobs, stripe_event::clear_enqueued(db, &ids))
        .await
    {
        // Still stamped: the reconciler takes them once the stamp is stale.
        tracing::error!(error = %e, "failed to return Stripe events to the backlog");
    }
}

/// Stores a batch and answers its deliveries; returns the jobs for the newly stored events.
async fn store_batch(
    db: &DatabaseConnection,
    batch: Vec<Delivery>,
    enqueued: bool,
) -> Vec<StripeEvent> {
    let events: Vec<NewEvent> = batch.iter().map(|d| d.event.clone()).collect();
    match stripe_event::insert_new(db, &events, enqueued).await {
        Ok(inserted) => {
            let mut new: HashSet<String> = inserted.into_iter().collect();
            let jobs: Vec<StripeEvent> = new
                .iter()
                .map(|id| StripeEvent {
                    event_id: id.clone().into(),
                })
                .collect();
            for delivery in batch {
                // The first delivery of a new id in this batch stored it; any twin is a duplicate.
                let stored = new.remove(&delivery.event.id);
                let _ = delivery.reply.send(Ok(stored));
            }
            jobs
        }
        Err(e) => {
            let cause = e.to_string();
            for delivery in batch {
                let _ = delivery.reply.send(Err(cause.clone()));
            }
            Vec::new()
        }
    }
}
