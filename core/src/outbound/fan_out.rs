//! Writes the deliveries of new events: one per endpoint that takes the event's type and was
//! registered when it was written (docs/webhooks.md: "An endpoint gets the events written after it
//! was registered").
//!
//! The event itself is written in its change's transaction ([`super::outbox`]); its deliveries
//! here, by the dispatcher, so a cancel or a payment never waits on a row per endpoint. Each
//! batch is one transaction that writes the deliveries and marks the events done, so a process
//! killed halfway leaves the events to the next pass, and nothing is written twice: a delivery
//! that exists is kept as it is (the unique index on endpoint and event), and on PostgreSQL
//! events another process is fanning out are skipped.
//!
//! Order per order holds: events are fanned out oldest first, and an order's events are written
//! by transactions that change the order's row, so one commits before the next is written.

use sea_orm::{DatabaseConnection, DbErr};

use crate::store::{outbound_delivery, outbound_event, webhook_endpoint};

/// Events per transaction.
pub const BATCH: u64 = 500;

/// Fans out up to [`BATCH`] events; answers how many.
pub async fn fan_out(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let txn = crate::store::begin_write(db).await?;
    let events = outbound_event::not_fanned_out(&txn, BATCH).await?;
    if events.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let endpoints = webhook_endpoint::all(&txn).await?;
    let mut deliveries = Vec::new();
    for event in &events {
        for endpoint in &endpoints {
            if endpoint.takes(&event.event_type) && endpoint.created_at <= event.created_at {
                deliveries.push((endpoint.id.clone(), event.seq, event.subject.clone()));
            }
        }
    }
    // Bounded statements: at most 16 endpoints, so at most 8,000 rows a batch.
    for chunk in deliveries.chunks(BATCH as usize) {
        outbound_delivery::insert_new(&txn, chunk).await?;
    }
    let seqs: Vec<i32> = events.iter().map(|e| e.seq).collect();
    outbound_event::mark_fanned_out(&txn, &seqs).await?;
    txn.commit().await?;
    Ok(events.len())
}
