use sea_orm_migration::{prelude::*, schema::*};

/// The order's timeline for the dashboard (minted, first clicked, deactivated, cancelled), and
/// Stripe traffic per minute (requests and 429s, from every process) for the overview.
/// SQLite adds one column per statement, hence one `alter_table` each.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Orders::MintedAt,
            Orders::FirstClickedAt,
            Orders::DeactivatedAt,
            Orders::CancelledAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(StripeMinutes::Table)
                    .col(timestamp_with_time_zone(StripeMinutes::Minute).primary_key())
                    .col(big_integer(StripeMinutes::Requests).default(0))
                    .col(big_integer(StripeMinutes::RateLimited).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StripeMinutes::Table).to_owned())
            .await?;
        for column in [
            Orders::MintedAt,
            Orders::FirstClickedAt,
            Orders::DeactivatedAt,
            Orders::CancelledAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    MintedAt,
    FirstClickedAt,
    DeactivatedAt,
    CancelledAt,
}

#[derive(DeriveIden)]
enum StripeMinutes {
    Table,
    Minute,
    Requests,
    RateLimited,
}
