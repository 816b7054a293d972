//! Where the sweeps of Stripe got to, shared by every worker process: one row per sweep.
//!
//! - `events`: `position` is the `created` time (Unix seconds) of the newest event the sweep of
//!   `GET /v1/events` has seen; the next sweep reads from a little before it.
//! - `links`: the link sweep keeps no position (it lists every active link); `requested_at`
//!   asks for an early run (after a Stripe 5xx or timeout on a create).
//!
//! `last_run_at` makes the interval fleet-wide: whichever process holds the lock runs the sweep
//! only when the last run, by anyone, is old enough.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub position: Option<i64>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub requested_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const EVENTS: &str = "events";
pub const LINKS: &str = "links";

pub async fn get<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(name.to_owned()).one(db).await
}

/// Records a finished run: when, and (for the event sweep) how far it got. A requested run
/// asked for before this one started is answered by it.
pub(crate) async fn finish_run<C: ConnectionTrait>(
    db: &C,
    name: &str,
    started_at: DateTime<Utc>,
    position: Option<i64>,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        name: Set(name.to_owned()),
        position: Set(position),
        last_run_at: Set(Some(started_at)),
        requested_at: Set(None),
    };
    let mut on_conflict = OnConflict::column(Column::Name);
    on_conflict.update_column(Column::LastRunAt);
    if position.is_some() {
        on_conflict.update_column(Column::Position);
    }
    Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await?;
    Entity::update_many()
        .col_expr(
            Column::RequestedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Name.eq(name))
        .filter(Column::RequestedAt.lte(started_at))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks for a run of sweep `name` at `at` (or earlier, when one is asked for already).
pub(crate) async fn request_run<C: ConnectionTrait>(
    db: &C,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        name: Set(name.to_owned()),
        position: Set(None),
        last_run_at: Set(None),
        requested_at: Set(Some(at)),
    };
    match Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Name).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
    {
        Ok(_) | Err(DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e),
    }
    use sea_orm::sea_query::Condition;
    Entity::update_many()
        .col_expr(Column::RequestedAt, Expr::value(at))
        .filter(Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(Column::RequestedAt.is_null())
                .add(Column::RequestedAt.gt(at)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The least time between a sweep's runs when runs are asked for early.
pub const EARLY_RUN_GAP: chrono::Duration = chrono::Duration::seconds(30);

/// Whether sweep `name` is due: never run (nor asked for), last run `interval` ago or more, or
/// a requested run whose time has come.
pub(crate) fn is_due(
    row: Option<&Model>,
    interval: std::time::Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(row) = row else {
        return true;
    };
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let by_interval = match row.last_run_at {
        Some(last) => now.signed_duration_since(last) >= interval,
        // Never run, but a run is asked for: at the time asked.
        None => row.requested_at.is_none(),
    };
    // An early run waits for its time, and comes at most every `EARLY_RUN_GAP`, however often
    // it is asked for (a blast meeting many Stripe 500s asks after each one).
    let requested = row.requested_at.is_some_and(|at| at <= now)
        && row
            .last_run_at
            .is_none_or(|last| now.signed_duration_since(last) >= EARLY_RUN_GAP);
    by_interval || requested
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone as _, Utc};

    use super::{Model, is_due};

    fn row(last: Option<i64>, requested: Option<i64>) -> Model {
        let at = |s: i64| Utc.timestamp_opt(s, 0).single().expect("a time");
        Model {
            name: "links".into(),
            position: None,
            last_run_at: last.map(at),
            requested_at: requested.map(at),
        }
    }

    #[test]
    fn a_sweep_is_due_by_interval_or_when_asked_for() {
        let now = Utc.timestamp_opt(10_000, 0).single().expect("a time");
        let hour = Duration::from_secs(3600);
        assert!(is_due(None, hour, now), "never run");
        assert!(!is_due(Some(&row(Some(9_000), None)), hour, now));
        assert!(is_due(Some(&row(Some(6_000), None)), hour, now));
        assert!(is_due(Some(&row(Some(9_000), Some(9_990))), hour, now));
        assert!(
            !is_due(Some(&row(Some(9_990), Some(9_995))), hour, now),
            "asked for, but the last run was under 30 s ago"
        );
        assert!(!is_due(Some(&row(Some(9_000), Some(10_010))), hour, now));
        assert!(
            !is_due(Some(&row(None, Some(10_010))), hour, now),
            "asked for later, never run: not before the time asked"
        );
    }
}
