//! A replay of an endpoint's events (docs/webhooks.md, "Delivery, retries and replay"): the range
//! it covers, fixed when it was asked for, and how far the background work has got. The request
//! writes the row and answers at once; the dispatcher makes the events due in batches
//! (core/src/outbound/replays.rs), each batch one transaction that moves `cursor` on only if
//! nobody else moved it first.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "outbound_replays")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub endpoint_id: String,
    /// The events written in `[since, until)`, of the endpoint's types.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The `seq` of the last event made due so far (or just before the first).
    #[serde(skip)]
    pub cursor: i32,
    /// Events in the range when it was asked for, and how many are due again so far.
    pub total: i32,
    pub done: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A replay to start.
pub(crate) struct NewReplay<'a> {
    pub endpoint_id: &'a str,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub first_seq: Option<i32>,
    pub total: u64,
}

/// Records a replay; one with nothing in range is finished already.
pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    replay: NewReplay<'_>,
) -> Result<Model, DbErr> {
    let now = Utc::now();
    ActiveModel {
        id: Set(super::new_id("rp")),
        endpoint_id: Set(replay.endpoint_id.to_owned()),
        since: Set(replay.since),
        until: Set(replay.until),
        cursor: Set(replay.first_seq.map_or(i32::MAX, |s| s.saturating_sub(1))),
        total: Set(i32::try_from(replay.total).unwrap_or(i32::MAX)),
        done: Set(0),
        created_at: Set(now),
        finished_at: Set(replay.first_seq.is_none().then_some(now)),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The oldest replay not finished yet.
pub(crate) async fn next_unfinished<C: ConnectionTrait>(db: &C) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::FinishedAt.is_null())
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .one(db)
        .await
}

/// Records one batch: `cursor` moves from `from` to `to` and `done` grows by `made_due`;
/// `finished` ends the replay. False when the cursor was no longer at `from` (another process
/// did this batch): the caller's transaction must then be rolled back.
pub(crate) async fn advance<C: ConnectionTrait>(
    db: &C,
    id: &str,
    from: i32,
    to: i32,
    made_due: usize,
    finished: bool,
) -> Result<bool, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::Cursor, Expr::value(to))
        .col_expr(
            Column::Done,
            Expr::col(Column::Done).add(i32::try_from(made_due).unwrap_or(i32::MAX)),
        );
    if finished {
        update = update.col_expr(Column::FinishedAt, Expr::value(Utc::now()));
    }
    let result = update
        .filter(Column::Id.eq(id))
        .filter(Column::Cursor.eq(from))
        .filter(Column::FinishedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Forgets an endpoint's replays (the endpoint is being deleted).
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
