use sea_orm_migration::{prelude::*, schema::*};

/// Dashboard sessions, one row per login (docs/security.md, "Dashboard sessions"). The cookie
/// carries a random secret; the row is keyed by its SHA-256, so the table alone cannot be used to
/// log in. Logout deletes the row; a row idle (or older) past its limit no longer counts.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdminSessions::Table)
                    .if_not_exists()
                    .col(string(AdminSessions::IdHash).primary_key())
                    .col(timestamp_with_time_zone(AdminSessions::CreatedAt))
                    .col(timestamp_with_time_zone(AdminSessions::LastSeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    IdHash,
    CreatedAt,
    LastSeenAt,
}
