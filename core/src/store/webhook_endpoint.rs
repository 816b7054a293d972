//! Where the host application wants paylink's events (docs/webhooks.md):
//! a URL, the event types it takes (null for all) and the secret that signs what it receives,
//! with the previous secret kept for an overlap after a rotation.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder};

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// Comma-separated event types; `None` for every type.
    #[sea_orm(column_type = "Text", nullable)]
    pub events: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Set when a delivery ran out of tries; cleared by the next delivery that succeeds.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Never prints the secrets.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("failing_since", &self.failing_since)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The event types this endpoint takes; `None` for all.
    pub fn event_types(&self) -> Option<Vec<String>> {
        self.events
            .as_deref()
            .map(|e| e.split(',').map(str::to_owned).collect())
    }

    /// Whether events of `event_type` go to this endpoint.
    pub fn takes(&self, event_type: &str) -> bool {
        self.events
            .as_deref()
            .is_none_or(|e| e.split(',').any(|t| t == event_type))
    }

    /// The secrets that sign a delivery made `now`: the current one, and the previous one while
    /// its overlap lasts.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    url: &str,
    events: Option<&[String]>,
    secret: &str,
) -> Result<Model, DbErr> {
    let row = ActiveModel {
        id: Set(super::new_id("we")),
        url: Set(url.to_owned()),
        events: Set(events.map(|e| e.join(","))),
        secret: Set(secret.to_owned()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        failing_since: Set(None),
        created_at: Set(Utc::now()),
    };
    row.insert(db).await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    if !super::could_be_key(id) {
        return Ok(None);
    }
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// Every endpoint, oldest first.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// How many endpoints there are.
pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find().count(db).await
}

/// Deletes the endpoint; false when there was none.
pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Makes `secret` the signing secret, keeping the current one until `overlap_until`.
pub async fn rotate<C: ConnectionTrait>(
    db: &C,
    id: &str,
    secret: &str,
    overlap_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::PreviousSecret, Expr::col(Column::Secret))
        .col_expr(Column::PreviousSecretUntil, Expr::value(overlap_until))
        .col_expr(Column::Secret, Expr::value(secret))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the endpoint failing (once: the first failure's time stays). True when it was not.
pub(crate) async fn mark_failing<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::FailingSince, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::FailingSince.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Clears the failing mark after a delivery succeeded. True when it was set.
pub(crate) async fn mark_healthy<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(
            Column::FailingSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::FailingSince.is_not_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many endpoints are failing now (the `paylink_outbound_endpoints_failing` gauge).
pub async fn count_failing<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::FailingSince.is_not_null())
        .count(db)
        .await
}
