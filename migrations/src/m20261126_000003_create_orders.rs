use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_products::Products;
use crate::m20261126_000002_create_blasts::Blasts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(string(Orders::Id).primary_key())
                    .col(string_uniq(Orders::ExternalRef))
                    .col(string(Orders::ProductId))
                    .col(string_null(Orders::BlastId))
                    .col(string(Orders::PayerEmail))
                    .col(string(Orders::PayerName))
                    .col(big_integer(Orders::AmountCents))
                    .col(string_len(Orders::Currency, 3))
                    .col(string(Orders::Status))
                    .col(string(Orders::LinkState))
                    .col(integer(Orders::LinkGeneration))
                    .col(integer(Orders::RetryEpoch))
                    .col(integer(Orders::Attempts))
                    .col(string_null(Orders::StripePaymentLinkId))
                    .col(string_null(Orders::StripePaymentLinkUrl))
                    .col(string_uniq(Orders::PayToken))
                    .col(text_null(Orders::LastError))
                    .col(string_null(Orders::StripeCheckoutSessionId))
                    .col(string_null(Orders::StripePaymentIntentId))
                    .col(string_null(Orders::StripeCustomerId))
                    .col(timestamp_with_time_zone_null(Orders::PaidAt))
                    .col(timestamp_with_time_zone_null(Orders::LastAttemptAt))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::BlastId)
                            .to(Blasts::Table, Blasts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The dashboard and the reconciler look orders up by state; blasts count by blast.
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_link_state")
                    .table(Orders::Table)
                    .col(Orders::LinkState)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_blast_id")
                    .table(Orders::Table)
                    .col(Orders::BlastId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_payment_link_id")
                    .table(Orders::Table)
                    .col(Orders::StripePaymentLinkId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    ExternalRef,
    ProductId,
    BlastId,
    PayerEmail,
    PayerName,
    AmountCents,
    Currency,
    Status,
    LinkState,
    LinkGeneration,
    RetryEpoch,
    Attempts,
    StripePaymentLinkId,
    StripePaymentLinkUrl,
    PayToken,
    LastError,
    StripeCheckoutSessionId,
    StripePaymentIntentId,
    StripeCustomerId,
    PaidAt,
    LastAttemptAt,
    CreatedAt,
    UpdatedAt,
}
