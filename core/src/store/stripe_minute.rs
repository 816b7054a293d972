//! Stripe traffic per minute, from every process: requests sent and how many Stripe answered
//! 429. Processes count in memory ([`crate::stripe::Tally`]) and add their counts here about
//! once a second, so the dashboard sees the fleet, not one process.

use chrono::{DateTime, DurationRound as _, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder as _};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_minutes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: DateTime<Utc>,
    pub requests: i64,
    pub rate_limited: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The start of the minute `at` falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or(at)
}

/// Adds counts to a minute's row.
pub async fn add<C: ConnectionTrait>(
    db: &C,
    minute: DateTime<Utc>,
    requests: i64,
    rate_limited: i64,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        minute: Set(minute),
        requests: Set(requests),
        rate_limited: Set(rate_limited),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Minute)
                .value(
                    Column::Requests,
                    Expr::col((Entity, Column::Requests)).add(requests),
                )
                .value(
                    Column::RateLimited,
                    Expr::col((Entity, Column::RateLimited)).add(rate_limited),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The minutes since `since`, oldest first.
pub async fn since<C: ConnectionTrait>(db: &C, since: DateTime<Utc>) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Minute.gte(minute_of(since)))
        .order_by_asc(Column::Minute)
        .all(db)
        .await
}
