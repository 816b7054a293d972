use sea_orm_migration::{prelude::*, schema::*};

/// Mail to payers (docs/email.md):
///
/// - `orders.send_email`: the pay-link mail goes to the payer once the order's link is active;
///   `orders.email_message`: the organiser's own text above the button (a blast's, or none).
/// - `emails`: one row per mail, claimed once per order and purpose (`purpose`, unique with the
///   order: `pay_link:{address}` for the automatic mail, so one address gets it once; a mail
///   sent again on request gets a purpose of its own). Its `message_id` is fixed when the row is
///   written, so a resend after a crash between the server's 250 and the record is the same
///   message. `enqueued_at`, `lease_owner` and `lease_until` work as the orders' do: the feeder
///   hands rows without a job to the queue, and one job at a time holds a row.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(boolean(Orders::SendEmail).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(text_null(Orders::EmailMessage))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_orders_send_email")
                    .table(Orders::Table)
                    .col(Orders::SendEmail)
                    .col(Orders::LinkState)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Emails::Table)
                    .if_not_exists()
                    .col(string(Emails::Id).primary_key())
                    .col(string(Emails::OrderId))
                    .col(string(Emails::Kind))
                    .col(string(Emails::Purpose))
                    .col(string(Emails::Recipient))
                    .col(string(Emails::MessageId))
                    .col(string(Emails::State))
                    .col(text_null(Emails::Reply))
                    .col(integer(Emails::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Emails::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Emails::EnqueuedAt))
                    .col(string_null(Emails::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Emails::LeaseUntil))
                    .col(timestamp_with_time_zone(Emails::CreatedAt))
                    .col(timestamp_with_time_zone_null(Emails::SentAt))
                    .col(timestamp_with_time_zone(Emails::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_emails_order")
                            .from(Emails::Table, Emails::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_emails_order_purpose")
                    .table(Emails::Table)
                    .col(Emails::OrderId)
                    .col(Emails::Purpose)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_emails_waiting")
                    .table(Emails::Table)
                    .col(Emails::EnqueuedAt)
                    .col(Emails::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Emails::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_orders_send_email")
                    .table(Orders::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Orders::SendEmail, Orders::EmailMessage] {
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

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    LinkState,
    SendEmail,
    EmailMessage,
}

#[derive(DeriveIden)]
enum Emails {
    Table,
    Id,
    OrderId,
    Kind,
    Purpose,
    Recipient,
    MessageId,
    State,
    Reply,
    Attempts,
    NextAttemptAt,
    EnqueuedAt,
    LeaseOwner,
    LeaseUntil,
    CreatedAt,
    SentAt,
    UpdatedAt,
}
