use sea_orm_migration::{prelude::*, schema::*};

/// `order_changes`: what an operator or the host application asked of an order (a new amount,
/// a cancel), when and through what (`api` or `dashboard`), written in the same transaction as
/// the change itself; and each failure to make its link, with Stripe's or the worker's reason
/// (`detail`). The order page's story reads it (docs/dashboard.md).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderChanges::Table)
                    .if_not_exists()
                    .col(pk_auto(OrderChanges::Id))
                    .col(string(OrderChanges::OrderId))
                    .col(timestamp_with_time_zone(OrderChanges::At))
                    .col(string(OrderChanges::Change))
                    .col(string(OrderChanges::ChangedBy))
                    .col(big_integer_null(OrderChanges::FromCents))
                    .col(big_integer_null(OrderChanges::ToCents))
                    .col(text_null(OrderChanges::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_order_changes_order_id")
                    .table(OrderChanges::Table)
                    .col(OrderChanges::OrderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OrderChanges {
    Table,
    Id,
    OrderId,
    At,
    Change,
    ChangedBy,
    FromCents,
    ToCents,
    Detail,
}
