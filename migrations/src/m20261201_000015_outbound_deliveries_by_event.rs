use sea_orm_migration::prelude::*;

/// Deliveries found by their event: an order's page lists what the host application was told
/// about it (core/src/timeline.rs), by the events' `event_seq`. The unique index of migration
/// 14 leads with `endpoint_id`, so without this one that read scans every delivery, and the
/// table is never pruned.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_deliveries_event_seq")
                    .table(OutboundDeliveries::Table)
                    .col(OutboundDeliveries::EventSeq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbound_deliveries_event_seq")
                    .table(OutboundDeliveries::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OutboundDeliveries {
    Table,
    EventSeq,
}
