//! Blasts: a named batch of orders created together. Progress is counted from its orders.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "blasts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub size: i32,
    pub created_at: DateTime<Utc>,
    /// When `blast.completed` was announced: no order of the blast waits for its link any more.
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QuerySelect};

use super::order;

/// Stores the blast unless one with this id exists (a re-run of the same file). Returns whether
/// this call created it.
pub(crate) async fn insert_if_new<C: ConnectionTrait>(
    db: &C,
    id: &str,
    name: &str,
    size: i32,
) -> Result<bool, DbErr> {
    let row = ActiveModel {
        id: Set(id.to_owned()),
        name: Set(name.to_owned()),
        size: Set(size),
        created_at: Set(Utc::now()),
        completed_at: Set(None),
    };
    match Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
    {
        Ok(n) => Ok(n == 1),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The most recent blasts, newest first.
pub async fn recent<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find()
        .order_by_desc(Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// How a blast's orders stand: links by state and orders paid or cancelled. `minting` and
/// `failed` count pending orders only: a paid or cancelled order is never minted again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub minting: i64,
    pub active: i64,
    pub failed: i64,
    pub deactivated: i64,
    pub paid: i64,
    pub cancelled: i64,
    /// The same orders in the buckets an organiser reads (shown as `progress`).
    #[serde(skip)]
    pub progress: Progress,
}

/// A blast's orders in plain buckets: each order in exactly one, so they add up to its size.
/// A paid or cancelled order counts as paid or cancelled whatever its link (a switched-off link
/// is not a link ready to pay); a pending one by its link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Pending, with a link the payer can pay.
    pub ready: i64,
    pub paid: i64,
    pub cancelled: i64,
    /// Pending, and Stripe refused its link (the failures page lists them).
    pub failed: i64,
    /// Pending, its link not made yet (or made again after a change of amount).
    pub not_yet: i64,
}

impl Progress {
    /// Every order counted.
    pub fn total(&self) -> i64 {
        self.ready + self.paid + self.cancelled + self.failed + self.not_yet
    }

    fn add(&mut self, status: order::Status, link_state: order::LinkState, n: i64) {
        use order::{LinkState, Status};
        let bucket = match (status, link_state) {
            (Status::Paid, _) => &mut self.paid,
            (Status::Cancelled, _) => &mut self.cancelled,
            (Status::Pending, LinkState::Active) => &mut self.ready,
            (Status::Pending, LinkState::Failed) => &mut self.failed,
            (Status::Pending, LinkState::Minting | LinkState::Deactivated) => &mut self.not_yet,
        };
        *bucket += n;
    }
}

pub async fn counts<C: ConnectionTrait>(db: &C, id: &str) -> Result<Counts, DbErr> {
    counts_where(db, Some(id)).await
}

/// Counts over one blast's orders, or over every order with `None`.
pub async fn counts_where<C: ConnectionTrait>(
    db: &C,
    blast_id: Option<&str>,
) -> Result<Counts, DbErr> {
    let mut query = order::Entity::find()
        .select_only()
        .column(order::Column::LinkState)
        .column(order::Column::Status)
        .column_as(order::Column::Id.count(), "n");
    if let Some(id) = blast_id {
        query = query.filter(order::Column::BlastId.eq(id));
    }
    let rows: Vec<(order::LinkState, order::Status, i64)> = query
        .group_by(order::Column::LinkState)
        .group_by(order::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = Counts::default();
    for (link_state, status, n) in rows {
        counts.progress.add(status, link_state, n);
        match status {
            order::Status::Paid => counts.paid += n,
            order::Status::Cancelled => counts.cancelled += n,
            order::Status::Pending => {}
        }
        // A paid or cancelled order's link will never be minted and needs no operator (see
        // `operator::needs_operator`): it counts as paid or cancelled only, so it neither
        // keeps a blast "minting" nor makes it "failed".
        let pending = status == order::Status::Pending;
        match link_state {
            order::LinkState::Minting if pending => counts.minting += n,
            order::LinkState::Failed if pending => counts.failed += n,
            order::LinkState::Minting | order::LinkState::Failed => {}
            order::LinkState::Active => counts.active += n,
            order::LinkState::Deactivated => counts.deactivated += n,
        }
    }
    Ok(counts)
}

/// Blasts not yet announced as completed whose every pending order has left `minting` (minted
/// or failed), oldest first, at most `limit`.
pub(crate) async fn newly_done<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    use sea_orm::QueryOrder;
    use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
    let waiting = Query::select()
        .expr(Expr::val(1))
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::BlastId)).equals((Entity, Column::Id)))
        .and_where(order::Column::Status.eq(order::Status::Pending))
        .and_where(order::Column::LinkState.eq(order::LinkState::Minting))
        .to_owned();
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CompletedAt.is_null())
        .filter(Expr::exists(waiting).not())
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Marks the blast completed; false when another process did first.
pub(crate) async fn mark_completed<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(
            Column::CompletedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::CompletedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
