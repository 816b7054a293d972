//! Writes outbound events. Call these inside the transaction of the state change that causes
//! the event: the event and its deliveries commit with the change or not at all.

use chrono::{SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::EventType;
use crate::store::{order, outbound_delivery, outbound_event, webhook_endpoint};
use crate::views::{BlastView, OrderView};

/// Records each of `kinds` for the order as it is now (inside the change's transaction), their
/// `data` what `GET /v1/orders/{id}` shows.
pub async fn order_events<C: ConnectionTrait>(
    db: &C,
    public_base_url: &str,
    kinds: &[EventType],
    order_id: &str,
) -> Result<(), DbErr> {
    if kinds.is_empty() {
        return Ok(());
    }
    match order::find(db, order_id).await? {
        Some(found) => order_events_of(db, public_base_url, kinds, found).await,
        None => Ok(()),
    }
}

/// [`order_events`] for an order the caller has just read in the same transaction.
pub async fn order_events_of<C: ConnectionTrait>(
    db: &C,
    public_base_url: &str,
    kinds: &[EventType],
    order: order::Model,
) -> Result<(), DbErr> {
    let order_id = order.id.clone();
    let data = to_json(&OrderView::new(public_base_url, order))?;
    let endpoints = webhook_endpoint::all(db).await?;
    for kind in kinds {
        write(db, &endpoints, *kind, Some(&order_id), None, data.clone()).await?;
    }
    Ok(())
}

/// Records `blast.completed` for the blast, with its counts.
pub(crate) async fn blast_completed<C: ConnectionTrait>(
    db: &C,
    blast_id: &str,
) -> Result<(), DbErr> {
    let Some(view) = BlastView::load(db, blast_id).await? else {
        return Ok(());
    };
    let data = to_json(&view)?;
    let endpoints = webhook_endpoint::all(db).await?;
    write(
        db,
        &endpoints,
        EventType::BlastCompleted,
        None,
        Some(blast_id),
        data,
    )
    .await
}

fn to_json(view: &impl serde::Serialize) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(view).map_err(|e| DbErr::Custom(format!("event data: {e}")))
}

/// One event, and a delivery due now to each of `endpoints` that takes its type.
async fn write<C: ConnectionTrait>(
    db: &C,
    endpoints: &[webhook_endpoint::Model],
    kind: EventType,
    order_id: Option<&str>,
    blast_id: Option<&str>,
    data: serde_json::Value,
) -> Result<(), DbErr> {
    let id = crate::store::new_id("msg");
    let created_at = Utc::now();
    let body = serde_json::json!({
        "id": id,
        "type": kind.as_str(),
        "timestamp": created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string();
    let event = outbound_event::insert(
        db,
        outbound_event::NewEvent {
            id: &id,
            event_type: kind.as_str(),
            order_id,
            blast_id,
            body,
            created_at,
        },
    )
    .await?;
    for endpoint in endpoints {
        if endpoint.takes(kind.as_str()) {
            outbound_delivery::make_due(db, &endpoint.id, event.seq, event.subject()).await?;
        }
    }
    Ok(())
}
