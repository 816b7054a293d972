//! Writes outbound events. Call these inside the transaction of the state change that causes
//! the event: the event commits with the change or not at all. Its deliveries, one per endpoint
//! that takes it, are written afterwards by the dispatcher ([`super::fan_out`]), so the change's
//! transaction holds one row more whatever the number of endpoints.

use chrono::{SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::EventType;
use crate::store::{order, outbound_event};
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
    for kind in kinds {
        write(db, *kind, Some(&order_id), None, data.clone()).await?;
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
    write(db, EventType::BlastCompleted, None, Some(blast_id), data).await
}

fn to_json(view: &impl serde::Serialize) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(view).map_err(|e| DbErr::Custom(format!("event data: {e}")))
}

/// One event, its deliveries to be written by the fan-out.
async fn write<C: ConnectionTrait>(
    db: &C,
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
    outbound_event::insert(
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
    Ok(())
}
