//! Facts the running deployment records about itself, one row per key, for the commands that
//! work on the same database without running the intake: `paylink blast --out` builds pay URLs
//! from the public base URL the intake runs with, not from its own environment (docs/api.md,
//! "Billing blasts").

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

/// The key under which the intake records `public_base_url` at start.
pub const PUBLIC_BASE_URL: &str = "public_base_url";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub value: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Sets `key` to `value` (the last writer wins).
pub async fn record<C: ConnectionTrait>(db: &C, key: &str, value: &str) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(Column::Key)
            .update_columns([Column::Value, Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The value recorded under `key`, if any.
pub async fn get<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(key.to_owned()).one(db).await
}

/// Removes what was recorded under `key`; answers whether there was something.
pub async fn forget<C: ConnectionTrait>(db: &C, key: &str) -> Result<bool, DbErr> {
    Ok(Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?
        .rows_affected
        > 0)
}
