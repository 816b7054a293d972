//! The outbox: one row per state change a host application is told of, written in the
//! transaction of the change (so none is lost and none is invented), holding the exact body that
//! is signed and sent. `seq` orders them; `id` is the `webhook-id` every delivery carries, the
//! same on every retry and replay, so receivers can dedupe.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, Condition, ConnectionTrait, QueryOrder, QuerySelect,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i32,
    #[sea_orm(unique)]
    pub id: String,
    pub event_type: String,
    pub order_id: Option<String>,
    pub blast_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Whether its deliveries (one per endpoint that takes it) are written. The event is
    /// written in the transaction of its change, its deliveries after that by the dispatcher
    /// (core/src/outbound/fan_out.rs), so a change's transaction never grows with the number
    /// of endpoints.
    pub fanned_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What the event is about, for per-subject ordering of deliveries: its order, or its blast.
    pub fn subject(&self) -> &str {
        subject(self.order_id.as_deref(), self.blast_id.as_deref())
    }
}

fn subject<'a>(order_id: Option<&'a str>, blast_id: Option<&'a str>) -> &'a str {
    order_id.or(blast_id).unwrap_or_default()
}

/// An event without its body: what a replay and the fan-out need of it.
#[derive(Clone, Debug)]
pub struct Heading {
    pub seq: i32,
    pub event_type: String,
    /// As [`Model::subject`].
    pub subject: String,
    pub created_at: DateTime<Utc>,
}

type HeadingRow = (i32, String, Option<String>, Option<String>, DateTime<Utc>);

fn heading_columns() -> [Column; 5] {
    [
        Column::Seq,
        Column::EventType,
        Column::OrderId,
        Column::BlastId,
        Column::CreatedAt,
    ]
}

fn heading((seq, event_type, order_id, blast_id, created_at): HeadingRow) -> Heading {
    Heading {
        seq,
        event_type,
        subject: subject(order_id.as_deref(), blast_id.as_deref()).to_owned(),
        created_at,
    }
}

/// A new event, as the outbox writes it.
pub(crate) struct NewEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub order_id: Option<&'a str>,
    pub blast_id: Option<&'a str>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    event: NewEvent<'_>,
) -> Result<Model, DbErr> {
    ActiveModel {
        seq: NotSet,
        id: Set(event.id.to_owned()),
        event_type: Set(event.event_type.to_owned()),
        order_id: Set(event.order_id.map(str::to_owned)),
        blast_id: Set(event.blast_id.map(str::to_owned)),
        body: Set(event.body),
        created_at: Set(event.created_at),
        fanned_out: Set(false),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, seq: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(seq).one(db).await
}

/// Events written at or after `since`, oldest first, without their bodies.
pub async fn since<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<Vec<Heading>, DbErr> {
    let rows: Vec<HeadingRow> = Entity::find()
        .select_only()
        .columns(heading_columns())
        .filter(Column::CreatedAt.gte(since))
        .order_by_asc(Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(heading).collect())
}

/// Up to `limit` events whose deliveries are not written yet, oldest first, each locked for
/// this transaction (on PostgreSQL: rows another process is fanning out now are skipped).
pub(crate) async fn not_fanned_out<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<Heading>, DbErr> {
    let rows: Vec<HeadingRow> = Entity::find()
        .select_only()
        .columns(heading_columns())
        .filter(Column::FannedOut.eq(false))
        .order_by_asc(Column::Seq)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(heading).collect())
}

/// Marks the events' deliveries written.
pub(crate) async fn mark_fanned_out<C: ConnectionTrait>(db: &C, seqs: &[i32]) -> Result<(), DbErr> {
    if seqs.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::FannedOut, sea_orm::sea_query::Expr::value(true))
        .filter(Column::Seq.is_in(seqs.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Events written in `[since, until)` of the given types (`None`: all): what a replay covers.
pub fn in_range(since: DateTime<Utc>, until: DateTime<Utc>, types: Option<&[String]>) -> Condition {
    let mut range = Condition::all()
        .add(Column::CreatedAt.gte(since))
        .add(Column::CreatedAt.lt(until));
    if let Some(types) = types {
        range = range.add(Column::EventType.is_in(types.iter().cloned()));
    }
    range
}

/// How a replay's range is cut to at most `cap` events: the events in it, the first one's
/// `seq` (the replay starts there), and, when more than `cap` are in range, the time of the
/// first one left out (where the range now ends, and the next replay may start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub count: u64,
    pub first_seq: Option<i32>,
    pub next_since: Option<DateTime<Utc>>,
}

/// Cuts `[since, until)` (of `types`) to its first `cap` events by time. Three index reads,
/// however many events are in range.
pub async fn cut_range<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    types: Option<&[String]>,
    cap: u64,
) -> Result<Cut, DbErr> {
    let next_since: Option<DateTime<Utc>> = Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .filter(in_range(since, until, types))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Seq)
        .offset(cap)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    let until = next_since.unwrap_or(until);
    let count = Entity::find()
        .filter(in_range(since, until, types))
        .count(db)
        .await?;
    let first_seq: Option<Option<i32>> = Entity::find()
        .select_only()
        .column_as(Column::Seq.min(), "first")
        .filter(in_range(since, until, types))
        .into_tuple()
        .one(db)
        .await?;
    Ok(Cut {
        count,
        first_seq: first_seq.flatten(),
        next_since,
    })
}

/// The next `limit` events of a replay's range after `after_seq`, by `seq`.
pub(crate) async fn range_after<C: ConnectionTrait>(
    db: &C,
    range: Condition,
    after_seq: i32,
    limit: u64,
) -> Result<Vec<Heading>, DbErr> {
    let rows: Vec<HeadingRow> = Entity::find()
        .select_only()
        .columns(heading_columns())
        .filter(range)
        .filter(Column::Seq.gt(after_seq))
        .order_by_asc(Column::Seq)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(heading).collect())
}

/// Every event about one order, oldest first.
pub async fn for_order<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}
