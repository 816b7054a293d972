//! The workers' delivery loop. Every process runs one; the database says what is due, and a
//! lease on each delivery row says who sends it, so any number of processes share the work and
//! a killed one's tries are made again once its leases lapse.
//!
//! Each try is its own task, at most [`OutboundSettings::max_in_flight`] per process and
//! [`OutboundSettings::per_endpoint`] per endpoint: an endpoint that hangs for its whole timeout
//! holds its own share only, and the others' deliveries go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::Semaphore;

use super::{OutboundSettings, outbox, sign};
use crate::store::outbound_delivery::{self, State, TryResult};
use crate::store::{blast, outbound_event, webhook_endpoint};

/// How often the loop looks for due deliveries while it finds some (and at once whenever a try
/// finishes), slowing to `crate::idle::IDLE_WAIT` while there are none; and how often it looks
/// for blasts that just completed.
const POLL: Duration = Duration::from_millis(200);
const BLAST_CHECK: Duration = Duration::from_secs(1);
/// A lease lasts the try's timeout and this much more.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Runs until `shutdown` completes; tries in flight then finish on their own (or, if the
/// process ends first, are made again when their leases lapse).
pub(crate) async fn run(
    db: DatabaseConnection,
    settings: OutboundSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let dispatcher = match Dispatcher::new(db, settings) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the outbound webhook client; no deliveries from this process");
            return;
        }
    };
    tokio::pin!(shutdown);
    let mut blasts_checked = tokio::time::Instant::now() - BLAST_CHECK;
    let mut wait = crate::idle::Backoff::new(POLL, crate::idle::IDLE_WAIT);
    let mut next = POLL;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(next) => {}
            // A try finished: its slot is free, and the next event of its order may be due.
            () = dispatcher.finished.notified() => {}
        }
        if blasts_checked.elapsed() >= BLAST_CHECK {
            blasts_checked = tokio::time::Instant::now();
            if let Err(e) = complete_blasts(&dispatcher.db).await {
                tracing::warn!(error = %e, "could not check blasts for completion");
            }
        }
        let started = match dispatcher.clone().start_due().await {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!(error = %e, "could not read due webhook deliveries");
                0
            }
        };
        next = wait.next(started > 0);
    }
}

/// Announces blasts none of whose orders waits for its link any more, each once.
async fn complete_blasts(db: &DatabaseConnection) -> Result<(), DbErr> {
    for id in blast::newly_done(db, 20).await? {
        let txn = crate::store::begin_write(db).await?;
        if blast::mark_completed(&txn, &id).await? {
            outbox::blast_completed(&txn, &id).await?;
            tracing::info!(blast_id = %id, "blast completed");
        }
        txn.commit().await?;
    }
    Ok(())
}

struct Dispatcher {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: OutboundSettings,
    /// Names this process's leases.
    owner: String,
    slots: Arc<Semaphore>,
    /// Tries in flight per endpoint.
    in_flight: Mutex<HashMap<String, usize>>,
    /// Wakes the loop when a try finishes.
    finished: tokio::sync::Notify,
}

impl Dispatcher {
    fn new(db: DatabaseConnection, settings: OutboundSettings) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("paylink-webhooks/", env!("CARGO_PKG_VERSION")))
            // A redirect is an answer that is not 2xx: the endpoint's URL is what was registered.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout)
            .build()?;
        Ok(Self {
            db,
            client,
            slots: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            settings,
            owner: crate::store::new_id("dispatch"),
            in_flight: Mutex::new(HashMap::new()),
            finished: tokio::sync::Notify::new(),
        })
    }

    /// Endpoints holding their whole share of tries now.
    fn busy(&self) -> Vec<String> {
        let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight
            .iter()
            .filter(|(_, n)| **n >= self.settings.per_endpoint)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Takes one of the endpoint's slots; false when it has none left.
    fn take_slot(&self, endpoint_id: &str) -> bool {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = in_flight.entry(endpoint_id.to_owned()).or_default();
        if *n >= self.settings.per_endpoint {
            return false;
        }
        *n += 1;
        true
    }

    fn give_back_slot(&self, endpoint_id: &str) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = in_flight.get_mut(endpoint_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.remove(endpoint_id);
            }
        }
    }

    /// Claims what is due, up to the free slots, and starts a task per try.
    /// Starts the due deliveries there is room for; answers how many (all slots busy counts as
    /// one, so the loop keeps its pace).
    async fn start_due(self: Arc<Self>) -> Result<usize, DbErr> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(1);
        }
        let mut started = 0;
        let now = Utc::now();
        let due = outbound_delivery::due(&self.db, now, &self.busy(), free as u64).await?;
        let lease = chrono::Duration::from_std(self.settings.timeout + LEASE_MARGIN)
            .unwrap_or(chrono::Duration::MAX);
        for delivery in due {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            if !self.take_slot(&delivery.endpoint_id) {
                continue;
            }
            if !outbound_delivery::claim(&self.db, delivery.id, &self.owner, Utc::now() + lease)
                .await?
            {
                self.give_back_slot(&delivery.endpoint_id);
                continue;
            }
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.attempt(&delivery).await {
                    tracing::warn!(delivery_id = delivery.id, error = %e, "webhook delivery not recorded; it is tried again when its lease lapses");
                }
                this.give_back_slot(&delivery.endpoint_id);
                drop(permit);
                this.finished.notify_one();
            });
            started += 1;
        }
        Ok(started)
    }

    /// One try of one delivery, and its outcome recorded.
    async fn attempt(&self, delivery: &outbound_delivery::Model) -> Result<(), DbErr> {
        let (Some(event), Some(endpoint)) = (
            outbound_event::find(&self.db, delivery.event_seq).await?,
            webhook_endpoint::find(&self.db, &delivery.endpoint_id).await?,
        ) else {
            // The endpoint was deleted meanwhile. Its deliveries go with it, but one written by
            // a replay or a new event racing the delete would outlive it: forget that one too,
            // or it would be claimed again each time its lease lapsed, forever.
            return outbound_delivery::delete(&self.db, delivery.id).await;
        };
        let (status, error) = self.send(&endpoint, &event).await;
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let tries = usize::try_from(delivery.attempts).unwrap_or(0) + 1;
        let (state, next_attempt_at) = if delivered {
            (State::Delivered, None)
        } else {
            match self.settings.retry_schedule.get(tries - 1) {
                Some(wait) => (State::Pending, Some(Utc::now() + jittered(*wait))),
                None => (State::Failed, None),
            }
        };
        let outcome = TryResult {
            status: status.map(i32::from),
            error: error.clone(),
            state,
            next_attempt_at,
        };
        if !outbound_delivery::record_try(&self.db, delivery.id, &self.owner, &outcome).await? {
            return Ok(());
        }
        let label = match state {
            State::Delivered => "delivered",
            State::Pending => "retry",
            State::Failed => "failed",
        };
        metrics::counter!("paylink_outbound_deliveries_total", "outcome" => label).increment(1);
        match state {
            State::Delivered => {
                if endpoint.failing_since.is_some()
                    && webhook_endpoint::mark_healthy(&self.db, &endpoint.id).await?
                {
                    tracing::info!(endpoint_id = %endpoint.id, "webhook endpoint answers again");
                }
            }
            State::Pending => {
                tracing::info!(delivery_id = delivery.id, endpoint_id = %endpoint.id, event_id = %event.id, tries, status = ?status, error = ?error, next_attempt_at = ?next_attempt_at, "webhook delivery failed; will retry");
            }
            State::Failed => {
                tracing::error!(delivery_id = delivery.id, endpoint_id = %endpoint.id, event_id = %event.id, tries, status = ?status, error = ?error, "webhook delivery failed for good; replay it once the endpoint is back");
                if webhook_endpoint::mark_failing(&self.db, &endpoint.id).await? {
                    tracing::error!(endpoint_id = %endpoint.id, url = %endpoint.url, "webhook endpoint is failing");
                }
            }
        }
        Ok(())
    }

    /// Posts the event's body, signed; the endpoint's HTTP status, or why there was none.
    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        event: &outbound_event::Model,
    ) -> (Option<u16>, Option<String>) {
        let timestamp = Utc::now().timestamp();
        let secrets = endpoint.signing_secrets(Utc::now());
        let signature = match sign::signature(&secrets, &event.id, timestamp, &event.body) {
            Ok(s) => s,
            Err(e) => return (None, Some(format!("cannot sign: {e}"))),
        };
        let sent = self
            .client
            .post(&endpoint.url)
            .timeout(self.settings.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(event.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(response) => {
                let status = response.status();
                (Some(status.as_u16()), Some(format!("answered {status}")))
            }
            Err(e) if e.is_timeout() => (
                None,
                Some(format!(
                    "no answer within {} s",
                    self.settings.timeout.as_secs_f64()
                )),
            ),
            // Without the URL: it may carry a token of the receiver's.
            // With its causes: reqwest's own text says only "error sending request".
            Err(e) => (
                None,
                Some(format!("{:#}", anyhow::Error::new(e.without_url()))),
            ),
        }
    }
}

/// `wait` ±10%, so endpoints that failed together are not all retried at the same instant.
fn jittered(wait: Duration) -> chrono::Duration {
    let factor = 0.9 + 0.2 * rand::random::<f64>();
    chrono::Duration::from_std(wait.mul_f64(factor)).unwrap_or(chrono::Duration::MAX)
}
