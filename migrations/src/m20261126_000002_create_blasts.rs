use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Blasts::Table)
                    .if_not_exists()
                    .col(string(Blasts::Id).primary_key())
                    .col(string(Blasts::Name))
                    .col(integer(Blasts::Size))
                    .col(timestamp_with_time_zone(Blasts::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Blasts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Blasts {
    Table,
    Id,
    Name,
    Size,
    CreatedAt,
}
