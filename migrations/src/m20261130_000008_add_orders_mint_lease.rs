use sea_orm_migration::{prelude::*, schema::*};

/// The mint lease: which job is minting the order's link right now, and until when. A running
/// `mint_link` job renews it every few seconds; a job whose worker was killed or froze stops
/// renewing, and another takes the order over once the lease has run out. So two live workers
/// never mint the same order at once, whatever the queue hands out twice.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(string_null(Orders::MintLeaseOwner))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(timestamp_with_time_zone_null(Orders::MintLeaseUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Orders::MintLeaseUntil, Orders::MintLeaseOwner] {
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
    MintLeaseOwner,
    MintLeaseUntil,
}
