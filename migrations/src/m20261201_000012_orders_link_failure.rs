use sea_orm_migration::{prelude::*, schema::*};

/// `orders.link_failure`: why a failed link failed. `refused` (Stripe answered 4xx: the same
/// request will fail the same way, so the dashboard offers to change the amount instead of a
/// retry) or `gave_up` (every attempt met a timeout, a 5xx or a 429: a retry may work). NULL on
/// orders that never failed, and on those that failed before this column existed.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(string_null(Orders::LinkFailure))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::LinkFailure)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    LinkFailure,
}
