use sea_orm_migration::{prelude::*, schema::*};

/// `deployment`: facts the running intake records about itself for the other commands (its
/// public base URL, which `paylink blast --out` builds pay URLs from; docs/api.md, "Billing
/// blasts"). `orders.blast_row`: an order's zero-based row in its blast, so a blast's result
/// lists its orders in the order they were submitted (a blast's orders share one `created_at`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deployment::Table)
                    .if_not_exists()
                    .col(string(Deployment::Key).primary_key())
                    .col(text(Deployment::Value))
                    .col(timestamp_with_time_zone(Deployment::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(integer_null(Orders::BlastRow))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::BlastRow)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Deployment::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Deployment {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    BlastRow,
}
