//! Rows that stand for work handed to the queue (orders to mint, Stripe events, links to switch
//! off): `enqueued_at` stamps when their job went on it, and a job enqueued long enough ago
//! without the work done counts as lost. One set of rules for all three tables.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Never enqueued, or (given `stale_before`) enqueued before it, so the queue lost the job.
pub(crate) fn not_enqueued_since(
    enqueued_at: impl ColumnTrait + Copy,
    stale_before: Option<DateTime<Utc>>,
) -> Condition {
    let never = Condition::any().add(enqueued_at.is_null());
    match stale_before {
        Some(before) => never.add(enqueued_at.lt(before)),
        None => never,
    }
}

/// Takes up to `limit` rows meeting `due`, oldest by `oldest_first` first: stamps them as
/// enqueued now and returns them, so a sweep takes each once per staleness period. Read, then
/// stamped under the same condition, so of two concurrent sweeps one takes a row.
pub(crate) async fn claim<E, C>(
    db: &C,
    id: E::Column,
    enqueued_at: E::Column,
    oldest_first: E::Column,
    due: Condition,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::{QueryOrder, QuerySelect};
    let ids: Vec<String> = E::find()
        .select_only()
        .column(id)
        .filter(due.clone())
        .order_by_asc(oldest_first)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    E::update_many()
        .col_expr(enqueued_at, Expr::value(Utc::now()))
        .filter(id.is_in(ids))
        .filter(due)
        .exec_with_returning(db)
        .await
}
