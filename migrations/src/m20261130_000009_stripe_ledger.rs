use sea_orm_migration::{prelude::*, schema::*};

/// Stripe is the ledger (docs/stripe.md, "Staying in step with Stripe"):
///
/// - `payment_links`: every Payment Link paylink minted or found at Stripe, of every generation,
///   so a payment through any of an order's links finds the order, and the reconciler can switch
///   off every link that must not take money;
/// - `payments`: every paid Checkout Session, once (the session id is the key), however paylink
///   learned of it (a webhook, the sweep of Stripe's events, the payer's return page), with what
///   was paid and whether it matched the order;
/// - `stripe_cursors`: where the sweeps of Stripe got to, shared by every worker process;
/// - on `orders`: what was paid, any payment issue, and when the current idempotency key was
///   first sent (Stripe forgets keys after about 24 hours);
/// - on `stripe_events`: where the event came from (`webhook` or `sweep`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PaymentLinks::Table)
                    .if_not_exists()
                    .col(string(PaymentLinks::Id).primary_key())
                    .col(string(PaymentLinks::OrderId))
                    .col(integer_null(PaymentLinks::Generation))
                    .col(string(PaymentLinks::Url))
                    .col(big_integer_null(PaymentLinks::AmountCents))
                    .col(string_null(PaymentLinks::Currency))
                    .col(string(PaymentLinks::State))
                    .col(string(PaymentLinks::Origin))
                    .col(timestamp_with_time_zone(PaymentLinks::CreatedAt))
                    .col(timestamp_with_time_zone_null(PaymentLinks::DeactivatedAt))
                    .col(timestamp_with_time_zone_null(PaymentLinks::EnqueuedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_payment_links_order_id")
                    .table(PaymentLinks::Table)
                    .col(PaymentLinks::OrderId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_payment_links_state")
                    .table(PaymentLinks::Table)
                    .col(PaymentLinks::State)
                    .to_owned(),
            )
            .await?;
        // The links minted before this table existed: the ones orders hold now.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO payment_links (id, order_id, generation, url, amount_cents, currency, \
                 state, origin, created_at) \
                 SELECT stripe_payment_link_id, id, link_generation, stripe_payment_link_url, \
                 amount_cents, currency, \
                 CASE WHEN link_state = 'deactivated' THEN 'deactivated' ELSE 'active' END, \
                 'minted', COALESCE(minted_at, created_at) \
                 FROM orders \
                 WHERE stripe_payment_link_id IS NOT NULL AND stripe_payment_link_url IS NOT NULL \
                 ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .if_not_exists()
                    .col(string(Payments::CheckoutSessionId).primary_key())
                    .col(string(Payments::OrderId))
                    .col(string_null(Payments::PaymentLinkId))
                    .col(big_integer_null(Payments::AmountCents))
                    .col(string_null(Payments::Currency))
                    .col(string_null(Payments::PaymentIntentId))
                    .col(string_null(Payments::CustomerId))
                    .col(string(Payments::LearnedVia))
                    .col(string_null(Payments::Issue))
                    .col(timestamp_with_time_zone(Payments::RecordedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_payments_order_id")
                    .table(Payments::Table)
                    .col(Payments::OrderId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeCursors::Table)
                    .if_not_exists()
                    .col(string(StripeCursors::Name).primary_key())
                    .col(big_integer_null(StripeCursors::Position))
                    .col(timestamp_with_time_zone_null(StripeCursors::LastRunAt))
                    .col(timestamp_with_time_zone_null(StripeCursors::RequestedAt))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite alters one thing at a time.
        let order_columns = [
            big_integer_null(Orders::PaidAmountCents),
            string_null(Orders::PaidCurrency),
            string_null(Orders::PaymentIssue),
            timestamp_with_time_zone_null(Orders::KeyFirstUsedAt),
        ];
        for mut column in order_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(StripeEvents::Table)
                    .add_column(string(StripeEvents::Source).default("webhook"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StripeEvents::Table)
                    .drop_column(StripeEvents::Source)
                    .to_owned(),
            )
            .await?;
        for column in [
            Orders::KeyFirstUsedAt,
            Orders::PaymentIssue,
            Orders::PaidCurrency,
            Orders::PaidAmountCents,
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
        for table in [
            StripeCursors::Table.into_iden(),
            Payments::Table.into_iden(),
            PaymentLinks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PaymentLinks {
    Table,
    Id,
    OrderId,
    Generation,
    Url,
    AmountCents,
    Currency,
    State,
    Origin,
    CreatedAt,
    DeactivatedAt,
    EnqueuedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    CheckoutSessionId,
    OrderId,
    PaymentLinkId,
    AmountCents,
    Currency,
    PaymentIntentId,
    CustomerId,
    LearnedVia,
    Issue,
    RecordedAt,
}

#[derive(DeriveIden)]
enum StripeCursors {
    Table,
    Name,
    Position,
    LastRunAt,
    RequestedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    PaidAmountCents,
    PaidCurrency,
    PaymentIssue,
    KeyFirstUsedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Source,
}
