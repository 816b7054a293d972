//! What the API and the dashboard ask of outbound endpoints: register one (its secret shown
//! once), rotate its secret, delete it, replay what it missed, resend one delivery.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, DbErr};

use super::EventType;
use super::target::{self, mask_url};
use crate::store::{outbound_delivery, outbound_event, outbound_replay, webhook_endpoint};

/// The most endpoints paylink sends to (Stripe allows as many): each is a share of every
/// process's delivery slots (core/src/outbound/slots.rs), so the cap is what lets a healthy
/// endpoint keep its share however many others hang.
pub const MAX_ENDPOINTS: u64 = 16;

/// The most events one replay request makes due; a longer range is cut there, and the answer
/// says where the rest starts (`next_since`).
pub const MAX_REPLAY: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The request names something paylink cannot use (a bad URL, an unknown event type).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The URL's host is not a public address, and `outbound.allow_private_networks` is off.
    #[error("url: {0}")]
    NotPublic(String),
    #[error(
        "paylink sends to at most {MAX_ENDPOINTS} webhook endpoints and has that many; delete \
         one (DELETE /v1/webhook_endpoints/{{id}}) before registering another"
    )]
    TooMany,
    #[error("no webhook endpoint {0:?}")]
    NotFound(String),
    #[error("no delivery {0}")]
    NoDelivery(i32),
    #[error("no replay {0:?} of this endpoint")]
    NoReplay(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The longest URL an endpoint may have.
const MAX_URL_LEN: usize = 2048;

/// Checks an endpoint URL: absolute `http` or `https` with a host, no fragment.
pub fn check_url(url: &str) -> Result<String, EndpointError> {
    check_url_parsed(url).map(|parsed| parsed.to_string())
}

fn check_url_parsed(url: &str) -> Result<reqwest::Url, EndpointError> {
    // The URL as written may hold credentials: refusals name it masked.
    let shown = mask_url(url);
    let invalid = |why: &str| EndpointError::Invalid("url", format!("{shown:?} {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(EndpointError::Invalid(
            "url",
            format!("longer than {MAX_URL_LEN} characters"),
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with https:// (or http://)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not have a #fragment"));
    }
    Ok(parsed)
}

/// Checks an `events` filter: known types, at least one; duplicates dropped, order kept.
pub fn check_events(events: &[String]) -> Result<Vec<String>, EndpointError> {
    if events.is_empty() {
        return Err(EndpointError::Invalid(
            "events",
            "empty: name at least one type, or leave events out for all".into(),
        ));
    }
    let mut kept: Vec<String> = Vec::new();
    for name in events {
        if EventType::parse(name).is_none() {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(EndpointError::Invalid(
                "events",
                format!("unknown type {name:?} (known: {})", known.join(", ")),
            ));
        }
        if !kept.contains(name) {
            kept.push(name.clone());
        }
    }
    Ok(kept)
}

/// Registers an endpoint. Returns it and its secret, which is shown only now. Unless
/// `allow_private_networks`, a URL whose host is not public is refused
/// ([`target::check_registration`]); and there are at most [`MAX_ENDPOINTS`].
pub async fn create(
    db: &DatabaseConnection,
    url: &str,
    events: Option<&[String]>,
    allow_private_networks: bool,
) -> Result<(webhook_endpoint::Model, String), EndpointError> {
    let parsed = check_url_parsed(url)?;
    let events = events.map(check_events).transpose()?;
    if !allow_private_networks {
        target::check_registration(&parsed)
            .await
            .map_err(|e| EndpointError::NotPublic(e.0))?;
    }
    let secret = super::sign::new_secret();
    let txn = crate::store::begin_write(db).await?;
    // Two registrations at once must not both see 15 (SQLite's write transaction is exclusive
    // already).
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE webhook_endpoints IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    if webhook_endpoint::count(&txn).await? >= MAX_ENDPOINTS {
        return Err(EndpointError::TooMany);
    }
    let created =
        webhook_endpoint::insert(&txn, parsed.as_str(), events.as_deref(), &secret).await?;
    txn.commit().await?;
    tracing::info!(endpoint_id = %created.id, url = %mask_url(&created.url), "webhook endpoint registered");
    Ok((created, secret))
}

/// Gives the endpoint a new secret; the old one keeps signing until `now + overlap`. Returns
/// the new secret and when the old one stops.
pub async fn rotate(
    db: &DatabaseConnection,
    id: &str,
    overlap: std::time::Duration,
) -> Result<(webhook_endpoint::Model, String, DateTime<Utc>), EndpointError> {
    let secret = super::sign::new_secret();
    let until = Utc::now() + chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX);
    if !webhook_endpoint::rotate(db, id, &secret, until).await? {
        return Err(EndpointError::NotFound(id.to_owned()));
    }
    let found = find(db, id).await?;
    tracing::info!(endpoint_id = %id, "webhook endpoint secret rotated");
    Ok((found, secret, until))
}

pub async fn find(
    db: &DatabaseConnection,
    id: &str,
) -> Result<webhook_endpoint::Model, EndpointError> {
    webhook_endpoint::find(db, id)
        .await?
        .ok_or_else(|| EndpointError::NotFound(id.to_owned()))
}

/// Deletes the endpoint and its deliveries (events stay in the outbox).
pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<(), EndpointError> {
    let txn = crate::store::begin_write(db).await?;
    if !webhook_endpoint::delete(&txn, id).await? {
        return Err(EndpointError::NotFound(id.to_owned()));
    }
    outbound_delivery::delete_for_endpoint(&txn, id).await?;
    outbound_replay::delete_for_endpoint(&txn, id).await?;
    txn.commit().await?;
    tracing::info!(endpoint_id = %id, "webhook endpoint deleted");
    Ok(())
}

/// Starts a replay: every event written in `[since, until)` (`until`: now) that the endpoint
/// takes, at most [`MAX_REPLAY`] of them, is made due to it again (or for the first time) with
/// the same `webhook-id`, in the background ([`super::replays`]). Answers the replay as
/// recorded (its `total`) and, when the range held more, the time the rest starts at.
pub async fn replay(
    db: &DatabaseConnection,
    id: &str,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<(outbound_replay::Model, Option<DateTime<Utc>>), EndpointError> {
    let endpoint = find(db, id).await?;
    let until = until.unwrap_or_else(Utc::now);
    let types = endpoint.event_types();
    let cut = outbound_event::cut_range(db, since, until, types.as_deref(), MAX_REPLAY).await?;
    let replay = outbound_replay::insert(
        db,
        outbound_replay::NewReplay {
            endpoint_id: id,
            since,
            until: cut.next_since.unwrap_or(until),
            first_seq: cut.first_seq,
            total: cut.count,
        },
    )
    .await?;
    tracing::info!(endpoint_id = %id, replay_id = %replay.id, %since, until = %replay.until, events = cut.count, next_since = ?cut.next_since, "webhook endpoint replay");
    Ok((replay, cut.next_since))
}

/// A replay of the endpoint, and how far it has got.
pub async fn find_replay(
    db: &DatabaseConnection,
    endpoint_id: &str,
    replay_id: &str,
) -> Result<outbound_replay::Model, EndpointError> {
    find(db, endpoint_id).await?;
    outbound_replay::find(db, replay_id)
        .await?
        .filter(|r| r.endpoint_id == endpoint_id)
        .ok_or_else(|| EndpointError::NoReplay(replay_id.to_owned()))
}

/// Makes one delivery due again from its first try.
pub async fn resend(db: &DatabaseConnection, delivery_id: i32) -> Result<(), EndpointError> {
    let delivery = outbound_delivery::find(db, delivery_id)
        .await?
        .ok_or(EndpointError::NoDelivery(delivery_id))?;
    outbound_delivery::make_due(
        db,
        &delivery.endpoint_id,
        delivery.event_seq,
        &delivery.subject,
    )
    .await?;
    tracing::info!(delivery_id, endpoint_id = %delivery.endpoint_id, "webhook delivery resent");
    Ok(())
}
