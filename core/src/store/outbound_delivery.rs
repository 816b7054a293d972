//! One delivery of one outbound event to one endpoint: pending until the endpoint answers 2xx
//! (`delivered`) or the retry schedule runs out (`failed`). A worker sends it only while it holds
//! the row's lease, so two workers never send the same try, and a worker killed mid-send leaves
//! a lease that lapses and a try that is made again (at least once).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, Condition, ConnectionTrait, QueryOrder, QuerySelect,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Every try of the schedule failed; a replay or a resend makes it pending again.
    #[sea_orm(string_value = "failed")]
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub endpoint_id: String,
    pub event_seq: i32,
    /// The order (or blast) the event is about: deliveries of one subject to one endpoint go
    /// in the order of their events.
    pub subject: String,
    pub state: State,
    /// Tries since the delivery was last made pending (a replay or resend starts again at 0).
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last HTTP status; `None` when it gave none (refused, timed out).
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A new delivery row, pending and due now.
fn due_now(endpoint_id: &str, event_seq: i32, subject: &str, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        id: NotSet,
        endpoint_id: Set(endpoint_id.to_owned()),
        event_seq: Set(event_seq),
        subject: Set(subject.to_owned()),
        state: Set(State::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_attempt_at: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
    }
}

/// What a make-due resets in a delivery that exists already.
fn made_due_again() -> OnConflict {
    OnConflict::columns([Column::EndpointId, Column::EventSeq])
        .update_columns([
            Column::State,
            Column::Attempts,
            Column::NextAttemptAt,
            Column::LeaseOwner,
            Column::LeaseUntil,
        ])
        .to_owned()
}

/// Makes the event due to the endpoint now: a new delivery, or an existing one (a replay, a
/// resend) pending again from its first try.
pub(crate) async fn make_due<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    event_seq: i32,
    subject: &str,
) -> Result<(), DbErr> {
    make_due_many(db, endpoint_id, &[(event_seq, subject.to_owned())]).await
}

/// [`make_due`] for many events of one endpoint, in one statement (`(seq, subject)` each).
pub(crate) async fn make_due_many<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    events: &[(i32, String)],
) -> Result<(), DbErr> {
    let now = Utc::now();
    Entity::insert_many(
        events
            .iter()
            .map(|(seq, subject)| due_now(endpoint_id, *seq, subject, now)),
    )
    .on_conflict(made_due_again())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Writes a first delivery for each `(endpoint, seq, subject)` that has none: the fan-out of new
/// events. One that exists (written by another process's fan-out, or by a replay that came
/// first) is left as it is, so a fan-out done twice delivers once.
pub(crate) async fn insert_new<C: ConnectionTrait>(
    db: &C,
    deliveries: &[(String, i32, String)],
) -> Result<u64, DbErr> {
    let now = Utc::now();
    Entity::insert_many(
        deliveries
            .iter()
            .map(|(endpoint, seq, subject)| due_now(endpoint, *seq, subject, now)),
    )
    .on_conflict(
        OnConflict::columns([Column::EndpointId, Column::EventSeq])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
}

/// Pending deliveries due by `now` and not leased, oldest event first, skipping `busy`
/// endpoints and any delivery whose subject has an earlier event still pending for the same
/// endpoint (per-order order).
pub(crate) async fn due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    busy: &[String],
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let earlier = Alias::new("earlier");
    let earlier_pending = Query::select()
        .expr(Expr::val(1))
        .from_as(Entity, earlier.clone())
        .and_where(
            Expr::col((earlier.clone(), Column::EndpointId)).equals((Entity, Column::EndpointId)),
        )
        .and_where(Expr::col((earlier.clone(), Column::Subject)).equals((Entity, Column::Subject)))
        .and_where(Expr::col((earlier.clone(), Column::State)).eq(State::Pending.to_value()))
        .and_where(Expr::col((earlier, Column::EventSeq)).lt(Expr::col((Entity, Column::EventSeq))))
        .to_owned();
    let mut query = Entity::find()
        .filter(Column::State.eq(State::Pending))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(unleased(now))
        .filter(Expr::exists(earlier_pending).not());
    if !busy.is_empty() {
        query = query.filter(Column::EndpointId.is_not_in(busy.iter().cloned()));
    }
    query
        .order_by_asc(Column::EventSeq)
        .limit(limit)
        .all(db)
        .await
}

fn unleased(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::LeaseUntil.is_null())
        .add(Column::LeaseUntil.lt(now))
}

/// Takes the delivery's lease for `owner` until `until`; false when another worker holds it or
/// it is no longer pending.
pub(crate) async fn claim<C: ConnectionTrait>(
    db: &C,
    id: i32,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let result = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(owner))
        .col_expr(Column::LeaseUntil, Expr::value(until))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(State::Pending))
        .filter(unleased(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What one try came to.
#[derive(Clone, Debug)]
pub(crate) struct TryResult {
    pub status: Option<i32>,
    pub error: Option<String>,
    /// The state after this try and, when pending, when to try again.
    pub state: State,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records a try made under `owner`'s lease, releasing it. False when the lease was lost
/// (the row was made due again meanwhile): the try's outcome then changes nothing.
pub(crate) async fn record_try<C: ConnectionTrait>(
    db: &C,
    id: i32,
    owner: &str,
    result: &TryResult,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastAttemptAt, Expr::value(now))
        .col_expr(Column::LastStatus, Expr::value(result.status))
        .col_expr(Column::LastError, Expr::value(result.error.clone()))
        .col_expr(Column::State, Expr::value(result.state.to_value()))
        .col_expr(Column::NextAttemptAt, Expr::value(result.next_attempt_at))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    if result.state == State::Delivered {
        update = update.col_expr(Column::DeliveredAt, Expr::value(now));
    }
    let result = update
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// The most recent deliveries (newest event first), optionally only those in `state`.
pub async fn recent<C: ConnectionTrait>(
    db: &C,
    state: Option<State>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find();
    if let Some(state) = state {
        query = query.filter(Column::State.eq(state));
    }
    query
        .order_by_desc(Column::EventSeq)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The deliveries of these events (to every endpoint).
pub async fn for_events<C: ConnectionTrait>(db: &C, seqs: &[i32]) -> Result<Vec<Model>, DbErr> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::EventSeq.is_in(seqs.iter().copied()))
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// How many deliveries are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// Deliveries per state, for the dashboard and metrics.
pub async fn count_by_state<C: ConnectionTrait>(db: &C) -> Result<Counts, DbErr> {
    let rows: Vec<(State, i64)> = Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = Counts::default();
    for (state, n) in rows {
        *match state {
            State::Pending => &mut counts.pending,
            State::Delivered => &mut counts.delivered,
            State::Failed => &mut counts.failed,
        } = n;
    }
    Ok(counts)
}

/// Forgets one delivery whose endpoint (or event) no longer exists.
pub(crate) async fn delete<C: ConnectionTrait>(db: &C, id: i32) -> Result<(), DbErr> {
    Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Forgets an endpoint's deliveries (the endpoint is being deleted).
pub(crate) async fn delete_for_endpoint<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::EndpointId.eq(endpoint_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A delivery as the dashboard lists it: with its event's type and subject, and the URL of
/// the endpoint it goes to (never the endpoint's secrets).
#[derive(Clone, Debug)]
pub struct Listed {
    pub delivery: Model,
    /// The event's `type`, `webhook-id`, and the order or blast it is about.
    pub event_type: String,
    pub event_id: String,
    pub order_id: Option<String>,
    pub blast_id: Option<String>,
    pub endpoint_url: String,
}

/// The most recent deliveries (newest event first, as [`recent`]), each with what the
/// dashboard shows beside it. Three queries, whatever the number of rows.
pub async fn recent_listed<C: ConnectionTrait>(
    db: &C,
    state: Option<State>,
    limit: u64,
) -> Result<Vec<Listed>, DbErr> {
    use super::{outbound_event, webhook_endpoint};
    use std::collections::HashMap;
    let deliveries = recent(db, state, limit).await?;
    let seqs: Vec<i32> = deliveries.iter().map(|d| d.event_seq).collect();
    let mut endpoint_ids: Vec<String> = deliveries.iter().map(|d| d.endpoint_id.clone()).collect();
    endpoint_ids.sort();
    endpoint_ids.dedup();
    type EventFacts = (i32, String, String, Option<String>, Option<String>);
    let events: HashMap<i32, EventFacts> = outbound_event::Entity::find()
        .select_only()
        .column(outbound_event::Column::Seq)
        .column(outbound_event::Column::EventType)
        .column(outbound_event::Column::Id)
        .column(outbound_event::Column::OrderId)
        .column(outbound_event::Column::BlastId)
        .filter(outbound_event::Column::Seq.is_in(seqs))
        .into_tuple::<EventFacts>()
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.0, e))
        .collect();
    let urls: HashMap<String, String> = webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .column(webhook_endpoint::Column::Url)
        .filter(webhook_endpoint::Column::Id.is_in(endpoint_ids))
        .into_tuple::<(String, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(deliveries
        .into_iter()
        .map(|delivery| {
            let (_, event_type, event_id, order_id, blast_id) =
                events.get(&delivery.event_seq).cloned().unwrap_or_default();
            Listed {
                event_type,
                event_id,
                order_id,
                blast_id,
                endpoint_url: urls.get(&delivery.endpoint_id).cloned().unwrap_or_default(),
                delivery,
            }
        })
        .collect())
}
