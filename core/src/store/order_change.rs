//! What was asked of an order after it was created (a new amount, a cancel), when and through
//! what, written in the transaction of the change itself, so the order page's story never
//! shows a change that did not happen, nor misses one that did; and each failure to make its
//! link, with the reason, so the story keeps it after the order has moved on.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, QueryFilter, QueryOrder};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Change {
    #[sea_orm(string_value = "amount")]
    Amount,
    #[sea_orm(string_value = "cancel")]
    Cancel,
    /// The payer's address changed (`detail`: the old and the new).
    #[sea_orm(string_value = "payer_email")]
    PayerEmail,
    /// No link could be made (`detail` says why).
    #[sea_orm(string_value = "link_failed")]
    LinkFailed,
}

/// Through what the change came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ChangedBy {
    /// The host application, through `/v1/orders/{id}`.
    #[sea_orm(string_value = "api")]
    Api,
    /// An operator, on the dashboard.
    #[sea_orm(string_value = "dashboard")]
    Dashboard,
    /// Stripe, refusing a request (a 4xx).
    #[sea_orm(string_value = "stripe")]
    Stripe,
    /// A worker, giving up after its attempts.
    #[sea_orm(string_value = "worker")]
    Worker,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub order_id: String,
    pub at: DateTime<Utc>,
    pub change: Change,
    pub changed_by: ChangedBy,
    pub from_cents: Option<i64>,
    pub to_cents: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records a change (call it inside the change's transaction).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    change: Change,
    changed_by: ChangedBy,
    amounts: Option<(i64, i64)>,
    detail: Option<&str>,
) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        id: NotSet,
        order_id: Set(order_id.to_owned()),
        at: Set(Utc::now()),
        change: Set(change),
        changed_by: Set(changed_by),
        from_cents: Set(amounts.map(|(from, _)| from)),
        to_cents: Set(amounts.map(|(_, to)| to)),
        detail: Set(detail.map(str::to_owned)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The order's changes, oldest first.
pub async fn for_order<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}
