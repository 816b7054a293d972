//! The workers' delivery loop. Every process runs one; the database says what is due, and a
//! lease on each delivery row says who sends it, so any number of processes share the work and
//! a killed one's tries are made again once its leases lapse.
//!
//! Each try is its own task, at most [`OutboundSettings::max_in_flight`] per process and
//! [`OutboundSettings::per_endpoint`] per endpoint, with a reserve of slots for every
//! registered endpoint ([`super::slots`]): an endpoint that hangs for its whole timeout holds
//! its own share only, and the others' deliveries go on.
//!
//! The loop also writes the deliveries of new events ([`super::fan_out`]) and does replays'
//! batches ([`super::replays`]). Every try connects only to public addresses unless
//! `outbound.allow_private_networks` ([`super::resolve`], [`super::target`]), and what it
//! records of a failure is one of [`Failure`]'s words: nothing of the network behind them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};

use super::slots::Slots;
use super::target::{literal_refusal, mask_url};
use super::{OutboundSettings, fan_out, outbox, replays, resolve, sign};
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
    if dispatcher.settings.allow_private_networks {
        tracing::info!(
            "outbound.allow_private_networks is set: webhooks may go to this machine and its private networks"
        );
    }
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
        let fanned = match fan_out::fan_out(&dispatcher.db).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the deliveries of new webhook events");
                0
            }
        };
        let replayed = match replays::step(&dispatcher.db).await {
            Ok(did) => did,
            Err(e) => {
                tracing::warn!(error = %e, "could not go on with a webhook replay");
                false
            }
        };
        let started = match dispatcher.clone().start_due().await {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!(error = %e, "could not read due webhook deliveries");
                0
            }
        };
        next = wait.next(started > 0 || fanned > 0 || replayed);
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
    /// Tries in flight, per endpoint, and who may start one.
    slots: Mutex<Slots>,
    /// Wakes the loop when a try finishes.
    finished: tokio::sync::Notify,
}

impl Dispatcher {
    fn new(db: DatabaseConnection, settings: OutboundSettings) -> reqwest::Result<Self> {
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("paylink-webhooks/", env!("CARGO_PKG_VERSION")))
            // A redirect is an answer that is not 2xx: the endpoint's URL is what was registered
            // (and was checked; where a redirect points was not).
            .redirect(reqwest::redirect::Policy::none())
            // The address checks are on the connections paylink makes itself: a proxy from the
            // environment would connect on its behalf to wherever it was told.
            .no_proxy()
            .connect_timeout(settings.timeout);
        if !settings.allow_private_networks {
            client = client.dns_resolver(Arc::new(resolve::PublicOnly));
        }
        Ok(Self {
            db,
            client: client.build()?,
            slots: Mutex::new(Slots::new(
                settings.max_in_flight,
                settings.reserved_per_endpoint,
                settings.per_endpoint,
            )),
            settings,
            owner: crate::store::new_id("dispatch"),
            finished: tokio::sync::Notify::new(),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the due deliveries there is room for; answers how many (all slots busy counts as
    /// one, so the loop keeps its pace).
    async fn start_due(self: Arc<Self>) -> Result<usize, DbErr> {
        let registered: Vec<String> = webhook_endpoint::all(&self.db)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        let (free, busy) = {
            let mut slots = self.slots();
            slots.set_registered(registered);
            (slots.free(), slots.busy())
        };
        if free == 0 {
            return Ok(1);
        }
        let mut started = 0;
        let now = Utc::now();
        let due = outbound_delivery::due(&self.db, now, &busy, free as u64).await?;
        let lease = chrono::Duration::from_std(self.settings.timeout + LEASE_MARGIN)
            .unwrap_or(chrono::Duration::MAX);
        for delivery in due {
            if !self.slots().take(&delivery.endpoint_id) {
                continue;
            }
            if !outbound_delivery::claim(&self.db, delivery.id, &self.owner, Utc::now() + lease)
                .await?
            {
                self.slots().give_back(&delivery.endpoint_id);
                continue;
            }
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.attempt(&delivery).await {
                    tracing::warn!(delivery_id = delivery.id, error = %e, "webhook delivery not recorded; it is tried again when its lease lapses");
                }
                this.slots().give_back(&delivery.endpoint_id);
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
        let (status, failure) = self.send(&endpoint, &event).await;
        let error = failure.as_ref().map(Failure::words);
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
            // The log, read by whoever runs paylink, has the cause as well (without the URL).
            State::Pending => {
                tracing::info!(delivery_id = delivery.id, endpoint_id = %endpoint.id, event_id = %event.id, tries, status = ?status, error = ?error, cause = ?failure.as_ref().map(Failure::cause), next_attempt_at = ?next_attempt_at, "webhook delivery failed; will retry");
            }
            State::Failed => {
                tracing::error!(delivery_id = delivery.id, endpoint_id = %endpoint.id, event_id = %event.id, tries, status = ?status, error = ?error, cause = ?failure.as_ref().map(Failure::cause), "webhook delivery failed for good; replay it once the endpoint is back");
                if webhook_endpoint::mark_failing(&self.db, &endpoint.id).await? {
                    tracing::error!(endpoint_id = %endpoint.id, url = %mask_url(&endpoint.url), "webhook endpoint is failing");
                }
            }
        }
        Ok(())
    }

    /// Posts the event's body, signed; the endpoint's HTTP status, and why the try failed.
    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        event: &outbound_event::Model,
    ) -> (Option<u16>, Option<Failure>) {
        // An address in the URL is connected to without the resolver: checked here instead.
        if !self.settings.allow_private_networks && literal_refusal(&endpoint.url) {
            return (None, Some(Failure::Refused));
        }
        let timestamp = Utc::now().timestamp();
        let secrets = endpoint.signing_secrets(Utc::now());
        let signature = match sign::signature(&secrets, &event.id, timestamp, &event.body) {
            Ok(s) => s,
            Err(e) => return (None, Some(Failure::CannotSign(e.to_string()))),
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
                let status = response.status().as_u16();
                (Some(status), Some(Failure::Status(status)))
            }
            Err(e) => (None, Some(Failure::of(e))),
        }
    }
}

/// Why a try failed, as the operator is shown it (the API, the dashboard, the stored
/// `last_error`): a word or the HTTP status, never an OS error, a DNS answer or a response
/// body, which would tell whoever holds the admin token about hosts they cannot reach.
#[derive(Debug)]
enum Failure {
    /// The target is not a public address (and `outbound.allow_private_networks` is off).
    Refused,
    TimedOut,
    /// No answer for any other reason (no such name, nothing listening, TLS); its cause for
    /// the log.
    Connection(String),
    Status(u16),
    /// The endpoint's secret cannot sign (a stored secret that is not `whsec_…` base64).
    CannotSign(String),
}

impl Failure {
    fn of(e: reqwest::Error) -> Self {
        if resolve::is_refused(&e) {
            Self::Refused
        } else if e.is_timeout() {
            Self::TimedOut
        } else {
            // Without the URL: it may carry a token of the receiver's.
            Self::Connection(format!("{:#}", anyhow::Error::new(e.without_url())))
        }
    }

    fn words(&self) -> String {
        match self {
            Self::Refused => public_words::REFUSED.into(),
            Self::TimedOut => public_words::TIMED_OUT.into(),
            Self::Connection(_) => public_words::CONNECTION_FAILED.into(),
            Self::Status(status) => format!("HTTP {status}"),
            Self::CannotSign(_) => public_words::CANNOT_SIGN.into(),
        }
    }

    /// What the log gets besides the words.
    fn cause(&self) -> Option<&str> {
        match self {
            Self::Connection(cause) | Self::CannotSign(cause) => Some(cause),
            _ => None,
        }
    }
}

/// The words a failed try is recorded with, and what an operator is shown of any recorded
/// error ([`shown_error`]).
pub mod public_words {
    pub const REFUSED: &str = "refused: not a public address";
    pub const TIMED_OUT: &str = "timed out";
    pub const CONNECTION_FAILED: &str = "connection failed";
    pub const CANNOT_SIGN: &str = "cannot sign with the endpoint's secret";
}

/// A delivery's last error as the API and the dashboard show it: the recorded words, or, for a
/// row recorded by an earlier version (which kept the OS's error text), "connection failed".
pub fn shown_error(last_status: Option<i32>, last_error: Option<&str>) -> Option<String> {
    use public_words::*;
    match last_error {
        None => last_status
            .filter(|s| !(200..300).contains(s))
            .map(|s| format!("HTTP {s}")),
        Some(e) if [REFUSED, TIMED_OUT, CONNECTION_FAILED, CANNOT_SIGN].contains(&e) => {
            Some(e.to_owned())
        }
        Some(e)
            if e.strip_prefix("HTTP ")
                .is_some_and(|s| s.parse::<u16>().is_ok()) =>
        {
            Some(e.to_owned())
        }
        Some(_) => match last_status {
            Some(s) => Some(format!("HTTP {s}")),
            None => Some(CONNECTION_FAILED.into()),
        },
    }
}

/// `wait` ±10%, so endpoints that failed together are not all retried at the same instant.
fn jittered(wait: Duration) -> chrono::Duration {
    let factor = 0.9 + 0.2 * rand::random::<f64>();
    chrono::Duration::from_std(wait.mul_f64(factor)).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::shown_error;

    #[test]
    fn an_operator_is_shown_words_even_for_rows_an_earlier_version_recorded() {
        let shown = |status, error| shown_error(status, error);
        assert_eq!(shown(None, Some("timed out")), Some("timed out".into()));
        assert_eq!(shown(Some(502), Some("HTTP 502")), Some("HTTP 502".into()));
        assert_eq!(
            shown(None, Some("refused: not a public address")),
            Some("refused: not a public address".into())
        );
        // Recorded before: the OS's text, or the status with its reason.
        assert_eq!(
            shown(
                None,
                Some(
                    "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)"
                )
            ),
            Some("connection failed".into())
        );
        assert_eq!(
            shown(Some(500), Some("answered 500 Internal Server Error")),
            Some("HTTP 500".into())
        );
        assert_eq!(shown(Some(204), None), None);
        assert_eq!(shown(None, None), None);
    }
}
