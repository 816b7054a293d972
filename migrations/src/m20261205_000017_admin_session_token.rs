use sea_orm_migration::{prelude::*, schema::*};

/// A dashboard session remembers the admin token that opened it (docs/security.md, "Dashboard
/// sessions"): the column holds the token's fingerprint, an HMAC of a fixed label under the
/// token, never the token. Sessions from before it cannot say which token opened them, so they
/// are ended here: every operator logs in once more after the upgrade.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM admin_sessions")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AdminSessions::Table)
                    .add_column(string(AdminSessions::TokenFingerprint).default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AdminSessions::Table)
                    .drop_column(AdminSessions::TokenFingerprint)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    TokenFingerprint,
}
