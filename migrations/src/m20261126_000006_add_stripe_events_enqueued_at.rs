use sea_orm_migration::{prelude::*, schema::*};

/// `enqueued_at` on stored events: set when the event's `stripe_event` job went on the queue,
/// NULL while the event waits in the database for room in the queue's window.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StripeEvents::Table)
                    .add_column(timestamp_with_time_zone_null(StripeEvents::EnqueuedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StripeEvents::Table)
                    .drop_column(StripeEvents::EnqueuedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    EnqueuedAt,
}
