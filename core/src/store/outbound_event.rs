//! The outbox: one row per state change a host application is told of, written in the
//! transaction of the change (so none is lost and none is invented), holding the exact body that
//! is signed and sent. `seq` orders them; `id` is the `webhook-id` every delivery carries, the
//! same on every retry and replay, so receivers can dedupe.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, QueryOrder, QuerySelect};

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

/// An event without its body: what a replay needs of it.
#[derive(Clone, Debug)]
pub struct Heading {
    pub seq: i32,
    pub event_type: String,
    /// As [`Model::subject`].
    pub subject: String,
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
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, seq: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(seq).one(db).await
}

/// Events written at or after `since`, oldest first, without their bodies (a replay of a big
/// blast's events would otherwise read every body).
pub async fn since<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<Vec<Heading>, DbErr> {
    let rows: Vec<(i32, String, Option<String>, Option<String>)> = Entity::find()
        .select_only()
        .columns([
            Column::Seq,
            Column::EventType,
            Column::OrderId,
            Column::BlastId,
        ])
        .filter(Column::CreatedAt.gte(since))
        .order_by_asc(Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, event_type, order_id, blast_id)| Heading {
            seq,
            event_type,
            subject: subject(order_id.as_deref(), blast_id.as_deref()).to_owned(),
        })
        .collect())
}

/// Every event about one order, oldest first.
pub async fn for_order<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}
