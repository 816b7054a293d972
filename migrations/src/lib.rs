//! paylink's database schema, one migration per file. Every migration must run on PostgreSQL and
//! SQLite alike: the schema builder is used instead of raw SQL for that reason.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_products;
mod m20261126_000002_create_blasts;
mod m20261126_000003_create_orders;
mod m20261126_000004_create_stripe_events;
mod m20261126_000005_add_orders_enqueued_at;
mod m20261126_000006_add_stripe_events_enqueued_at;
mod m20261126_000007_order_timeline_and_stripe_minutes;
mod m20261130_000008_add_orders_mint_lease;
mod m20261130_000009_stripe_ledger;
mod m20261130_000010_admin_sessions;
mod m20261201_000011_deployment_and_blast_row;
mod m20261201_000012_orders_link_failure;
mod m20261201_000013_order_changes;
mod m20261201_000014_outbound_webhooks;
mod m20261201_000015_outbound_deliveries_by_event;
mod m20261204_000016_key_refusals_retryable;
mod m20261205_000017_admin_session_token;
mod m20261205_000018_outbound_fan_out_and_replays;
mod m20261205_000019_create_emails;

/// Applies paylink's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_products::Migration),
            Box::new(m20261126_000002_create_blasts::Migration),
            Box::new(m20261126_000003_create_orders::Migration),
            Box::new(m20261126_000004_create_stripe_events::Migration),
            Box::new(m20261126_000005_add_orders_enqueued_at::Migration),
            Box::new(m20261126_000006_add_stripe_events_enqueued_at::Migration),
            Box::new(m20261126_000007_order_timeline_and_stripe_minutes::Migration),
            Box::new(m20261130_000008_add_orders_mint_lease::Migration),
            Box::new(m20261130_000009_stripe_ledger::Migration),
            Box::new(m20261130_000010_admin_sessions::Migration),
            Box::new(m20261201_000011_deployment_and_blast_row::Migration),
            Box::new(m20261201_000012_orders_link_failure::Migration),
            Box::new(m20261201_000013_order_changes::Migration),
            Box::new(m20261201_000014_outbound_webhooks::Migration),
            Box::new(m20261201_000015_outbound_deliveries_by_event::Migration),
            Box::new(m20261204_000016_key_refusals_retryable::Migration),
            Box::new(m20261205_000017_admin_session_token::Migration),
            Box::new(m20261205_000018_outbound_fan_out_and_replays::Migration),
            Box::new(m20261205_000019_create_emails::Migration),
        ]
    }
}
