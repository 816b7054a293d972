use sea_orm_migration::prelude::*;

/// Orders whose link an earlier version failed because Stripe refused paylink's API key (401,
/// or 403 for a restricted key) were filed as `refused`, which "Retry all matching" skips: the
/// only way out was to change each amount and back. The key was the setting to fix, not the
/// order; they become `stripe_key` failures, which a retry takes. (Since this version such a
/// refusal pauses link-making and fails no order: core/src/stripe_key.rs.)
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE orders SET link_failure = 'stripe_key' \
                 WHERE link_failure = 'refused' \
                 AND (last_error LIKE 'Stripe refused the request (HTTP 401)%' \
                 OR last_error LIKE 'Stripe refused the request (HTTP 403)%')",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE orders SET link_failure = 'refused' WHERE link_failure = 'stripe_key'",
            )
            .await
            .map(drop)
    }
}
