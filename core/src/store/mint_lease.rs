//! The mint lease on an order row: which `mint_link` job is minting its link, and until when.
//!
//! The queue may hand one order to two jobs at once: a worker that froze past its heartbeat
//! has its jobs handed to others and then wakes up, and after Redis lost its data the feeder
//! re-enqueues work some live worker is still doing. The idempotency key keeps Stripe from
//! making two links either way, but two jobs would both spend Stripe requests and attempts. The
//! lease makes the second job wait for the first: taken with a conditional update (whoever's
//! update matches the row holds it), renewed while the job runs, given up when it ends, and
//! free for the taking once its holder stops renewing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _};

use super::order::{Column, Entity};

/// Takes the order's lease for `owner` until `until`, or renews it when `owner` holds it.
/// Returns false when another owner holds a lease that has not run out (or the order is gone).
pub async fn take<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::MintLeaseOwner, Expr::value(owner))
        .col_expr(Column::MintLeaseUntil, Expr::value(until))
        .filter(Column::Id.eq(order_id))
        .filter(
            Condition::any()
                .add(Column::MintLeaseUntil.is_null())
                .add(Column::MintLeaseUntil.lt(now))
                .add(Column::MintLeaseOwner.eq(owner)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Keeps the lease until `until`; false when `owner` no longer holds it (it ran out and
/// another job took it).
pub(crate) async fn renew<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::MintLeaseUntil, Expr::value(until))
        .filter(Column::Id.eq(order_id))
        .filter(Column::MintLeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives the lease up, if `owner` still holds it.
pub async fn release<C: ConnectionTrait>(db: &C, order_id: &str, owner: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::MintLeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::MintLeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(order_id))
        .filter(Column::MintLeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}
