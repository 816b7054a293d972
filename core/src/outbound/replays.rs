//! The background half of a replay ([`super::endpoints::replay`] is the request's half): the
//! dispatcher makes a replay's events due in batches of [`BATCH`], each its own short
//! transaction, so a replay of thousands of events never holds the database for long and other
//! requests go on meanwhile.

use sea_orm::{DatabaseConnection, DbErr};

use crate::store::{outbound_delivery, outbound_event, outbound_replay, webhook_endpoint};

/// Events per transaction.
pub const BATCH: u64 = 500;

/// Does one batch of the oldest unfinished replay; answers whether there was one.
pub async fn step(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let Some(replay) = outbound_replay::next_unfinished(db).await? else {
        return Ok(false);
    };
    let txn = crate::store::begin_write(db).await?;
    let Some(endpoint) = webhook_endpoint::find(&txn, &replay.endpoint_id).await? else {
        // Deleted meanwhile (its replays go with it; this one raced the delete).
        outbound_replay::advance(&txn, &replay.id, replay.cursor, replay.cursor, 0, true).await?;
        txn.commit().await?;
        return Ok(true);
    };
    let types = endpoint.event_types();
    let range = outbound_event::in_range(replay.since, replay.until, types.as_deref());
    let events = outbound_event::range_after(&txn, range, replay.cursor, BATCH).await?;
    let due: Vec<(i32, String)> = events
        .iter()
        .filter(|e| endpoint.takes(&e.event_type))
        .map(|e| (e.seq, e.subject.clone()))
        .collect();
    outbound_delivery::make_due_many(&txn, &endpoint.id, &due).await?;
    let to = events.last().map_or(replay.cursor, |e| e.seq);
    let finished = (events.len() as u64) < BATCH;
    if !outbound_replay::advance(&txn, &replay.id, replay.cursor, to, due.len(), finished).await? {
        // Another process did this batch first.
        txn.rollback().await?;
        return Ok(true);
    }
    txn.commit().await?;
    if finished {
        let made_due = i64::from(replay.done) + due.len() as i64;
        tracing::info!(replay_id = %replay.id, endpoint_id = %endpoint.id, made_due, "webhook replay done");
    }
    Ok(true)
}
