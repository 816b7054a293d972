//! Read-only figures for the operator's overview, computed from the tables (so they cover
//! every process): links minted per minute, and failures in a recent window.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{order, stripe_event};

/// Links minted per minute since `since` as (minute, count), oldest first; minutes with none
/// are absent.
pub async fn minted_per_minute<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT date_trunc('minute', minted_at) AS minute, COUNT(*) AS n FROM orders \
             WHERE minted_at >= $1 GROUP BY 1 ORDER BY 1"
        }
        _ => {
            "SELECT strftime('%Y-%m-%dT%H:%M:00Z', minted_at) AS minute, COUNT(*) AS n FROM orders \
             WHERE minted_at >= ? GROUP BY 1 ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [since.into()]))
        .await?;
    rows.into_iter()
        .map(|row| {
            let n: i64 = row.try_get("", "n")?;
            let minute: DateTime<Utc> = match backend {
                DbBackend::Postgres => row.try_get("", "minute")?,
                _ => {
                    let text: String = row.try_get("", "minute")?;
                    DateTime::parse_from_rfc3339(&text)
                        .map_err(|e| DbErr::Type(format!("minute {text:?}: {e}")))?
                        .with_timezone(&Utc)
                }
            };
            Ok((minute, n))
        })
        .collect()
}

/// Orders whose link failed and that still need an operator (not cancelled), and events whose
/// processing failed, since `since`.
pub async fn failures_since<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<(u64, u64), DbErr> {
    let orders = order::Entity::find()
        .filter(super::operator::needs_operator())
        .filter(order::Column::UpdatedAt.gte(since))
        .count(db)
        .await?;
    let events = stripe_event::Entity::find()
        .filter(stripe_event::Column::ReceivedAt.gte(since))
        .filter(super::operator::event_failed())
        .count(db)
        .await?;
    Ok((orders, events))
}

/// Orders waiting in the database for room in the queue (never enqueued).
pub async fn backlog<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    order::Entity::find()
        .filter(order::waiting_for_job(None))
        .count(db)
        .await
}
