//! Stripe events as received: the raw payload keyed by Stripe's event id, which is the dedupe.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

use super::payment::Issue;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// When its `stripe_event` job went on the queue; NULL while it waits for room.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// Where it came from: `webhook` (a delivery) or `sweep` (read from `GET /v1/events`).
    pub source: String,
}

/// How processing an event ended; stored on its row for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "already_paid")]
    AlreadyPaid,
    /// Recorded and flagged for the operator (see [`Issue`]): the three issues by name.
    #[sea_orm(string_value = "amount_mismatch")]
    AmountMismatch,
    #[sea_orm(string_value = "paid_after_cancel")]
    PaidAfterCancel,
    #[sea_orm(string_value = "paid_twice")]
    PaidTwice,
    #[sea_orm(string_value = "awaiting_async_payment")]
    AwaitingAsyncPayment,
    #[sea_orm(string_value = "payment_failed_link_still_open")]
    PaymentFailedLinkReused,
    #[sea_orm(string_value = "payment_failed_new_link")]
    PaymentFailedNewLink,
    #[sea_orm(string_value = "payment_failed_order_not_pending")]
    PaymentFailedOrderNotPending,
    /// No order of ours: kept and listed for the operator.
    #[sea_orm(string_value = "unknown_order")]
    UnknownOrder,
    /// A type paylink does not act on.
    #[sea_orm(string_value = "ignored")]
    Ignored,
    /// Not the JSON Stripe sends: kept and listed for the operator, never guessed at.
    #[sea_orm(string_value = "unreadable")]
    Unreadable,
    /// From the other mode than paylink's key (a test event under a live key, or the reverse):
    /// settles nothing, listed for the operator (a webhook secret of the other mode's endpoint
    /// is configured).
    #[sea_orm(string_value = "wrong_mode")]
    WrongMode,
}

impl Outcome {
    /// The outcomes an operator should look at.
    pub const NEED_AN_OPERATOR: [Outcome; 3] = [
        Outcome::UnknownOrder,
        Outcome::Unreadable,
        Outcome::WrongMode,
    ];
}

impl From<Issue> for Outcome {
    fn from(issue: Issue) -> Self {
        match issue {
            Issue::AmountMismatch => Outcome::AmountMismatch,
            Issue::PaidAfterCancel => Outcome::PaidAfterCancel,
            Issue::PaidTwice => Outcome::PaidTwice,
        }
    }
}

/// Where an event came from.
pub const FROM_WEBHOOK: &str = "webhook";
pub const FROM_SWEEP: &str = "sweep";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};

/// An event as received, before it is stored.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    pub payload: String,
    /// [`FROM_WEBHOOK`] or [`FROM_SWEEP`].
    pub source: &'static str,
}

/// Stores the events, ignoring ids already stored (Stripe delivers an event more than once),
/// stamped as enqueued when the caller is about to enqueue their jobs (`enqueued`), else left
/// for the feeder. Returns the ids this call inserted: those, and only those, need a job.
pub(crate) async fn insert_new<C: ConnectionTrait>(
    db: &C,
    events: &[NewEvent],
    enqueued: bool,
) -> Result<Vec<String>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    // The same id twice in one batch (concurrent duplicates) would conflict within the
    // statement itself on PostgreSQL: keep the first.
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<ActiveModel> = events
        .iter()
        .filter(|e| seen.insert(e.id.as_str()))
        .map(|e| ActiveModel {
            id: Set(e.id.clone()),
            event_type: Set(e.event_type.clone()),
            payload: Set(e.payload.clone()),
            received_at: Set(now),
            processed_at: Set(None),
            outcome: Set(None),
            error: Set(None),
            enqueued_at: Set(enqueued.then_some(now)),
            source: Set(e.source.to_owned()),
        })
        .collect();
    let inserted = Entity::insert_many(rows)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_with_returning_keys(db)
        .await;
    match inserted {
        Ok(ids) => Ok(ids),
        // Every row conflicted: all are duplicates.
        Err(DbErr::RecordNotInserted) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// Events waiting for room in the queue: unprocessed, with no job enqueued.
pub async fn backlog<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait as _;
    Entity::find().filter(waiting_for_job(None)).count(db).await
}

/// Records how processing ended. Only the first outcome sticks: a duplicate job that finishes
/// later changes nothing.
pub(crate) async fn mark_processed<C: ConnectionTrait>(
    db: &C,
    id: &str,
    outcome: Outcome,
    error: Option<&str>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::ProcessedAt, Expr::value(Utc::now()))
        .col_expr(Column::Outcome, Expr::value(outcome))
        .col_expr(Column::Error, Expr::value(error.map(str::to_owned)))
        .filter(Column::Id.eq(id))
        .filter(Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Keeps the error of a failed processing attempt on an unprocessed event, for the operator.
pub(crate) async fn note_error<C: ConnectionTrait>(
    db: &C,
    id: &str,
    error: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Error, Expr::value(error))
        .filter(Column::Id.eq(id))
        .filter(Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Returns events to the backlog (their jobs were not enqueued), for the feeder to take.
pub async fn clear_enqueued<C: ConnectionTrait>(db: &C, ids: &[String]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(
            Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Events waiting for a job: unprocessed, and never enqueued or (given `stale_before`)
/// enqueued before it, so the queue lost their job.
fn waiting_for_job(stale_before: Option<DateTime<Utc>>) -> sea_orm::sea_query::Condition {
    use sea_orm::sea_query::Condition;
    Condition::all()
        .add(Column::ProcessedAt.is_null())
        .add(super::enqueued::not_enqueued_since(
            Column::EnqueuedAt,
            stale_before,
        ))
}

/// The ids of up to `limit` events waiting for a job, oldest first. The feeder enqueues them,
/// then stamps them ([`stamp_enqueued`]), for the reason `order::backlog` gives.
pub async fn backlog_ids<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    stale_before: Option<DateTime<Utc>>,
) -> Result<Vec<String>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(waiting_for_job(stale_before))
        .order_by_asc(Column::ReceivedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Stamps `ids` as enqueued, those still waiting for a job.
pub async fn stamp_enqueued<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
    stale_before: Option<DateTime<Utc>>,
) -> Result<u64, DbErr> {
    Ok(Entity::update_many()
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(waiting_for_job(stale_before))
        .exec(db)
        .await?
        .rows_affected)
}

/// When the intake last stored an event delivered by Stripe (one whose signature verified with
/// a configured secret); `None` when none ever came.
/// How many events came from the other mode than the key's ([`Outcome::WrongMode`]), and the
/// latest of them.
pub async fn from_the_other_mode<C: ConnectionTrait>(
    db: &C,
) -> Result<(u64, Option<Model>), DbErr> {
    use sea_orm::{PaginatorTrait as _, QueryOrder};
    let wrong = || Entity::find().filter(Column::Outcome.eq(Outcome::WrongMode));
    let count = wrong().count(db).await?;
    let latest = wrong().order_by_desc(Column::ReceivedAt).one(db).await?;
    Ok((count, latest))
}

pub async fn last_delivered_at<C: ConnectionTrait>(db: &C) -> Result<Option<DateTime<Utc>>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .select_only()
        .column(Column::ReceivedAt)
        .filter(Column::Source.eq(FROM_WEBHOOK))
        .order_by_desc(Column::ReceivedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}
