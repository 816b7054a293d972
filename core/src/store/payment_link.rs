//! Every Payment Link paylink minted or found at Stripe, of every generation. The order points
//! at its current one (`orders.stripe_payment_link_id`); the others stay here so that a payment
//! through any of them finds its order, and so that the reconciler can switch off every link
//! that must not take money, even when the job that should have done it was lost.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};

use super::enqueued::{claim, not_enqueued_since};
use super::order;

/// Whether the link can take money at Stripe, as far as paylink knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum State {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "deactivated")]
    Deactivated,
}

/// How paylink came to know the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Origin {
    /// A `mint_link` job or a payer's click created it and stored it on the order.
    #[sea_orm(string_value = "minted")]
    Minted,
    /// The link sweep found it at Stripe, naming an order that did not hold it (an orphan: a
    /// create Stripe answered 500 or that timed out after Stripe made the link).
    #[sea_orm(string_value = "found")]
    Found,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_links")]
pub struct Model {
    /// Stripe's id (`plink_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    /// The order's link generation it was minted for (unknown for some found links).
    pub generation: Option<i32>,
    pub url: String,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    pub state: State,
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// When the reconciler last enqueued a `deactivate_link` for it.
    pub enqueued_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Remembers a link made for `order` (of `generation`, where known), active at Stripe; a link
/// already known keeps its row (the first record wins). A link paylink minted charges the
/// order's amount; one found at Stripe is kept without an amount (it may be an older
/// generation's).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    origin: Origin,
    generation: Option<i32>,
    id: &str,
    url: &str,
) -> Result<(), DbErr> {
    let minted = origin == Origin::Minted;
    let row = ActiveModel {
        id: Set(id.to_owned()),
        order_id: Set(order.id.clone()),
        generation: Set(generation),
        url: Set(url.to_owned()),
        amount_cents: Set(minted.then_some(order.amount_cents)),
        currency: Set(minted.then(|| order.currency.clone())),
        state: Set(State::Active),
        origin: Set(origin),
        created_at: Set(Utc::now()),
        deactivated_at: Set(None),
        enqueued_at: Set(None),
    };
    match Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
    {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The order `link_id` was minted for, of any generation: by the link's row here, else (a link
/// stored on an order before this table kept it) by the link the order holds.
pub(crate) async fn order_of<C: ConnectionTrait>(
    db: &C,
    link_id: &str,
) -> Result<Option<order::Model>, DbErr> {
    match find(db, link_id).await? {
        Some(link) => order::find_by(db, order::By::Id(&link.order_id)).await,
        None => order::find_by(db, order::By::CurrentLink(link_id)).await,
    }
}

/// Records that Stripe switched the link off (idempotent).
pub(crate) async fn mark_deactivated<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(State::Deactivated.to_value()))
        .col_expr(Column::DeactivatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(State::Active))
        .exec(db)
        .await?;
    Ok(())
}

/// Notes that a `deactivate_link` job was just enqueued for these links, so the reconciler
/// leaves them to it until it is stale.
pub(crate) async fn note_enqueued<C: ConnectionTrait>(db: &C, ids: &[String]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Links still active that no order holds as its link: an old generation's (the amount
/// changed, or a failed delayed payment moved the order on) or an orphan found at Stripe, whose
/// `deactivate_link` was never enqueued (the queue was down) or was enqueued before
/// `stale_before` and evidently lost. An order's current link is the business of
/// [`super::order::claim_unclosed`]. Stamps the ones it returns, so a sweep takes each once per
/// staleness period.
pub(crate) async fn claim_stray<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::sea_query::{Condition, ExprTrait as _, Query};
    let current = Query::select()
        .column(order::Column::StripePaymentLinkId)
        .from(order::Entity)
        .and_where(order::Column::StripePaymentLinkId.is_not_null())
        .to_owned();
    // An order still minting may be about to store a link of the generation it mints (a
    // worker died between recording the link and storing it; its job's retry stores the same
    // one): not stray yet. Its older generations' links are.
    let maybe_storing = Query::select()
        .column((Entity, Column::Id))
        .from(Entity)
        .inner_join(
            order::Entity,
            Expr::col((order::Entity, order::Column::Id)).equals((Entity, Column::OrderId)),
        )
        .and_where(
            Expr::col((order::Entity, order::Column::Status)).eq(order::Status::Pending.to_value()),
        )
        .and_where(
            Expr::col((order::Entity, order::Column::LinkState))
                .eq(order::LinkState::Minting.to_value()),
        )
        .and_where(
            Expr::col((order::Entity, order::Column::LinkGeneration))
                .equals((Entity, Column::Generation)),
        )
        .to_owned();
    let stray = Condition::all()
        .add(Column::State.eq(State::Active))
        .add(Column::Id.not_in_subquery(current))
        .add(Column::Id.not_in_subquery(maybe_storing))
        .add(not_enqueued_since(Column::EnqueuedAt, Some(stale_before)));
    claim::<Entity, _>(
        db,
        Column::Id,
        Column::EnqueuedAt,
        Column::CreatedAt,
        stray,
        limit,
    )
    .await
}
