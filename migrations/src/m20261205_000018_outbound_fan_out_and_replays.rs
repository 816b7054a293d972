use sea_orm_migration::{prelude::*, schema::*};

/// Outbound webhooks, hardened (docs/security.md, "Outbound webhooks"):
///
/// - `outbound_events.fanned_out`: an event's deliveries are written after its change's
///   transaction, by the dispatcher (core/src/outbound/fan_out.rs), so a cancel or a payment
///   never writes a row per endpoint. Events from before were fanned out in their transaction:
///   they start `true`, new ones `false`.
/// - `outbound_replays`: a replay is a background job over a bounded range (`since`, `until`,
///   at most 10,000 events), done in batches from `cursor` (the last `seq` made due), instead of
///   one transaction inside the request.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutboundEvents::Table)
                    .add_column(boolean(OutboundEvents::FannedOut).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_events_fanned_out")
                    .table(OutboundEvents::Table)
                    .col(OutboundEvents::FannedOut)
                    .col(OutboundEvents::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboundReplays::Table)
                    .if_not_exists()
                    .col(string(OutboundReplays::Id).primary_key())
                    .col(string(OutboundReplays::EndpointId))
                    .col(timestamp_with_time_zone(OutboundReplays::Since))
                    .col(timestamp_with_time_zone(OutboundReplays::Until))
                    .col(integer(OutboundReplays::Cursor))
                    .col(integer(OutboundReplays::Total))
                    .col(integer(OutboundReplays::Done).default(0))
                    .col(timestamp_with_time_zone(OutboundReplays::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboundReplays::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_replays_unfinished")
                    .table(OutboundReplays::Table)
                    .col(OutboundReplays::FinishedAt)
                    .col(OutboundReplays::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboundReplays::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbound_events_fanned_out")
                    .table(OutboundEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OutboundEvents::Table)
                    .drop_column(OutboundEvents::FannedOut)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OutboundEvents {
    Table,
    Seq,
    FannedOut,
}

#[derive(DeriveIden)]
enum OutboundReplays {
    Table,
    Id,
    EndpointId,
    Since,
    Until,
    Cursor,
    Total,
    Done,
    CreatedAt,
    FinishedAt,
}
