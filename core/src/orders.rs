//! Accepting an order (the API) and changing it after: cancelling it (the API and the
//! dashboard) and changing its amount (the API). A Payment Link's price cannot change, so a new amount means a
//! new link generation, minted under a new idempotency key, and the old link switched off.

use sea_orm::{ActiveEnum as _, DatabaseConnection};

use crate::domain::{AmountCents, Email, FieldError, OrderId, OrderInput};
use crate::jobs::deactivate_link;
use crate::jobs::mint_link;
use crate::outbound::{EventType, outbox};
use crate::queue::JobQueue;
use crate::store::order_change::{self, Change};
use crate::store::{operator, order, product};

pub use crate::store::order_change::ChangedBy;

/// Why an order was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The caller's key names a different order.
    #[error(
        "external_ref {external_ref:?} already names order {existing} with a different product, amount, currency or payer"
    )]
    Conflict {
        external_ref: String,
        existing: String,
    },
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// Stores a new order and hands its mint job to the queue (when the queue refuses, the order
/// waits in the backlog, or a click mints it). The same `external_ref` with the same content is
/// the caller's retry: the stored order comes back with `false`.
pub async fn create(
    db: &DatabaseConnection,
    queue: &JobQueue,
    input: &OrderInput,
) -> Result<(order::Model, bool), CreateError> {
    let product = product::find_by_id_or_name(db, &input.product_id).await?;
    let new = input.validate(&product, None)?;
    let (stored, created) = order::insert_or_get(db, new.clone()).await?;
    if !created {
        if !order::same_order(&stored, &new) {
            return Err(CreateError::Conflict {
                external_ref: new.external_ref,
                existing: stored.id,
            });
        }
        return Ok((stored, false));
    }
    mint_link::hand_off(db, queue, &stored.id, stored.link_generation).await?;
    Ok((stored, true))
}

/// Why an order could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no order {:?}", .0.as_str())]
    NotFound(OrderId),
    /// Paid or cancelled orders keep their amount and state.
    #[error("order {0} is {1}; only a pending order can change")]
    NotPending(String, String),
    /// Another change (or a payment) got there between our read and our write.
    #[error("order {0} changed meanwhile; read it again and retry")]
    Raced(OrderId),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// Cancels a pending order and switches its link off, announcing `order.cancelled` (its pay
/// URL under `public_base_url`). Returns the order as it is now.
pub async fn cancel(
    db: &DatabaseConnection,
    queue: &JobQueue,
    public_base_url: &str,
    id: &OrderId,
    by: ChangedBy,
) -> Result<order::Model, ChangeError> {
    let txn = crate::store::begin_write(db).await?;
    let Some(before) = operator::cancel(&txn, id).await? else {
        drop(txn);
        return Err(match order::find(db, id).await? {
            Some(found) => ChangeError::NotPending(found.id, found.status.to_value()),
            None => ChangeError::NotFound(id.clone()),
        });
    };
    order_change::record(&txn, id, Change::Cancel, by, None, None).await?;
    outbox::order_events(&txn, public_base_url, &[EventType::Cancelled], id).await?;
    txn.commit().await?;
    if let (order::LinkState::Active, Some(link_id)) =
        (before.link_state, before.stripe_payment_link_id)
    {
        // If this fails, the reconciler switches off links of cancelled orders.
        switch_off(db, queue, id, link_id).await;
    }
    tracing::info!(order_id = %id, "order cancelled");
    current(db, id).await
}

/// Gives a pending order a new amount: a new link generation at that amount, minted at once
/// (through the queue), and the old link switched off. The same amount changes nothing.
pub async fn change_amount(
    db: &DatabaseConnection,
    queue: &JobQueue,
    id: &OrderId,
    amount: AmountCents,
    by: ChangedBy,
) -> Result<order::Model, ChangeError> {
    let found = pending(db, id).await?;
    let amount_cents = amount.get();
    if found.amount_cents == amount_cents {
        return Ok(found);
    }
    let txn = crate::store::begin_write(db).await?;
    if !order::start_new_generation(&txn, id, found.link_generation, Some(amount_cents)).await? {
        return Err(ChangeError::Raced(id.clone()));
    }
    order_change::record(
        &txn,
        id,
        Change::Amount,
        by,
        Some((found.amount_cents, amount_cents)),
        None,
    )
    .await?;
    txn.commit().await?;
    if let Some(old_link) = found.stripe_payment_link_id {
        switch_off(db, queue, id, old_link).await;
    }
    mint_link::hand_off(db, queue, id, found.link_generation + 1).await?;
    tracing::info!(order_id = %id, amount_cents, "order amount changed");
    current(db, id).await
}

/// Changes a pending order's payer address (`PATCH /v1/orders/{id} {payer: {email}}`). The
/// link and the pay URL stay; when the order asked for its pay-link mail, the new address gets
/// it once (the feeder writes it: one per order and address), and a mail still waiting for the
/// old one is not sent. The same address again changes nothing.
pub async fn change_payer_email(
    db: &DatabaseConnection,
    id: &OrderId,
    email: Email,
    by: ChangedBy,
) -> Result<order::Model, ChangeError> {
    let found = pending(db, id).await?;
    if found.payer_email.eq_ignore_ascii_case(email.as_str()) {
        return Ok(found);
    }
    let txn = crate::store::begin_write(db).await?;
    if !order::change_payer_email(&txn, id, &found.payer_email, email.as_str()).await? {
        return Err(ChangeError::Raced(id.clone()));
    }
    let detail = format!("{} → {}", found.payer_email, email.as_str());
    order_change::record(&txn, id, Change::PayerEmail, by, None, Some(&detail)).await?;
    txn.commit().await?;
    tracing::info!(order_id = %id, "payer's address changed");
    current(db, id).await
}

/// Switches `link_id` off through the queue. The intake makes no Stripe call of its own: when
/// the queue is down, the link stays in `payment_links` as active, and the reconciler finds it
/// (an old amount's link at its next sweep; a cancelled order's once `stale_after` has passed).
async fn switch_off(db: &DatabaseConnection, queue: &JobQueue, order_id: &str, link_id: String) {
    let noted = match deactivate_link::hand_off(db, queue, order_id, &[link_id]).await {
        Ok(true) => order::note_enqueued(db, order_id).await,
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = noted {
        tracing::warn!(order_id, error = %e, "deactivate_link enqueued but not noted");
    }
}

/// The order, when it is pending: only a pending order changes.
async fn pending(db: &DatabaseConnection, id: &OrderId) -> Result<order::Model, ChangeError> {
    let found = current(db, id).await?;
    if found.status != order::Status::Pending {
        return Err(ChangeError::NotPending(found.id, found.status.to_value()));
    }
    Ok(found)
}

async fn current(db: &DatabaseConnection, id: &OrderId) -> Result<order::Model, ChangeError> {
    order::find(db, id)
        .await?
        .ok_or_else(|| ChangeError::NotFound(id.clone()))
}
