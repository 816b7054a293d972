//! What the API and the dashboard ask of outbound endpoints: register one (its secret shown
//! once), rotate its secret, delete it, replay what it missed, resend one delivery.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use super::EventType;
use crate::store::{outbound_delivery, outbound_event, webhook_endpoint};

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The request names something paylink cannot use (a bad URL, an unknown event type).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error("no webhook endpoint {0:?}")]
    NotFound(String),
    #[error("no delivery {0}")]
    NoDelivery(i32),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The longest URL an endpoint may have.
const MAX_URL_LEN: usize = 2048;

/// Checks an endpoint URL: absolute `http` or `https` with a host, no fragment.
pub fn check_url(url: &str) -> Result<String, EndpointError> {
    let invalid = |why: &str| EndpointError::Invalid("url", format!("{url:?} {why}"));
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
    Ok(parsed.to_string())
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

/// Registers an endpoint. Returns it and its secret, which is shown only now.
pub async fn create(
    db: &DatabaseConnection,
    url: &str,
    events: Option<&[String]>,
) -> Result<(webhook_endpoint::Model, String), EndpointError> {
    let url = check_url(url)?;
    let events = events.map(check_events).transpose()?;
    let secret = super::sign::new_secret();
    let created = webhook_endpoint::insert(db, &url, events.as_deref(), &secret).await?;
    tracing::info!(endpoint_id = %created.id, url = %created.url, "webhook endpoint registered");
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
    txn.commit().await?;
    tracing::info!(endpoint_id = %id, "webhook endpoint deleted");
    Ok(())
}

/// Makes every event written since `since` that the endpoint takes due to it again (or for
/// the first time), with the same `webhook-id`. Returns how many.
pub async fn replay(
    db: &DatabaseConnection,
    id: &str,
    since: DateTime<Utc>,
) -> Result<usize, EndpointError> {
    let endpoint = find(db, id).await?;
    let txn = crate::store::begin_write(db).await?;
    let mut replayed = 0;
    for event in outbound_event::since(&txn, since).await? {
        if endpoint.takes(&event.event_type) {
            outbound_delivery::make_due(&txn, id, event.seq, &event.subject).await?;
            replayed += 1;
        }
    }
    txn.commit().await?;
    tracing::info!(endpoint_id = %id, %since, replayed, "webhook endpoint replay");
    Ok(replayed)
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
