use sea_orm_migration::{prelude::*, schema::*};

/// Outbound webhooks (docs/webhooks.md):
///
/// - `webhook_endpoints`: where the host application wants events, which types (`events`,
///   comma-separated; null for all), the signing secret and, for a while after a rotation, the
///   previous one; `failing_since` once a delivery ran out of tries (cleared by the next success).
/// - `outbound_events`: the outbox. One row per state change a host cares about, written in the
///   transaction of the change, with the exact body that is signed and sent (`seq` orders them).
/// - `outbound_deliveries`: one row per event and endpoint: its state (`pending`, `delivered`,
///   `failed`), tries, the next try, the last answer, and the lease of the worker sending it.
/// - `blasts.completed_at`: set once, with the `blast.completed` event, when no order of the
///   blast is still waiting for its link. Blasts already done get their creation time, so an
///   upgrade announces nothing old.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .if_not_exists()
                    .col(string(WebhookEndpoints::Id).primary_key())
                    .col(text(WebhookEndpoints::Url))
                    .col(text_null(WebhookEndpoints::Events))
                    .col(text(WebhookEndpoints::Secret))
                    .col(text_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretUntil,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboundEvents::Table)
                    .if_not_exists()
                    .col(pk_auto(OutboundEvents::Seq))
                    .col(string_uniq(OutboundEvents::Id))
                    .col(string(OutboundEvents::EventType))
                    .col(string_null(OutboundEvents::OrderId))
                    .col(string_null(OutboundEvents::BlastId))
                    .col(text(OutboundEvents::Body))
                    .col(timestamp_with_time_zone(OutboundEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_outbound_events_created_at", OutboundEvents::CreatedAt),
            ("idx_outbound_events_order_id", OutboundEvents::OrderId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(OutboundEvents::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OutboundDeliveries::Table)
                    .if_not_exists()
                    .col(pk_auto(OutboundDeliveries::Id))
                    .col(string(OutboundDeliveries::EndpointId))
                    .col(integer(OutboundDeliveries::EventSeq))
                    .col(string(OutboundDeliveries::Subject))
                    .col(string(OutboundDeliveries::State))
                    .col(integer(OutboundDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(
                        OutboundDeliveries::NextAttemptAt,
                    ))
                    .col(string_null(OutboundDeliveries::LeaseOwner))
                    .col(timestamp_with_time_zone_null(
                        OutboundDeliveries::LeaseUntil,
                    ))
                    .col(timestamp_with_time_zone_null(
                        OutboundDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(OutboundDeliveries::LastStatus))
                    .col(text_null(OutboundDeliveries::LastError))
                    .col(timestamp_with_time_zone_null(
                        OutboundDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone(OutboundDeliveries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_deliveries_endpoint_event")
                    .table(OutboundDeliveries::Table)
                    .col(OutboundDeliveries::EndpointId)
                    .col(OutboundDeliveries::EventSeq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_deliveries_due")
                    .table(OutboundDeliveries::Table)
                    .col(OutboundDeliveries::State)
                    .col(OutboundDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_outbound_deliveries_subject")
                    .table(OutboundDeliveries::Table)
                    .col(OutboundDeliveries::EndpointId)
                    .col(OutboundDeliveries::Subject)
                    .col(OutboundDeliveries::State)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Blasts::Table)
                    .add_column(timestamp_with_time_zone_null(Blasts::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE blasts SET completed_at = created_at WHERE NOT EXISTS \
                 (SELECT 1 FROM orders WHERE orders.blast_id = blasts.id \
                 AND orders.status = 'pending' AND orders.link_state = 'minting')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OutboundDeliveries::Table.into_iden(),
            OutboundEvents::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Blasts::Table)
                    .drop_column(Blasts::CompletedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Events,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    FailingSince,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboundEvents {
    Table,
    Seq,
    Id,
    EventType,
    OrderId,
    BlastId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboundDeliveries {
    Table,
    Id,
    EndpointId,
    EventSeq,
    Subject,
    State,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastAttemptAt,
    LastStatus,
    LastError,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Blasts {
    Table,
    CompletedAt,
}
