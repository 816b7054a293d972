//! A job's lease on a row: which job is working on it, and until when. The queue may hand one
//! piece of work to two jobs at once (a worker that froze past its heartbeat wakes up after its
//! jobs were handed on; after Redis lost its data the feeder re-enqueues work a live worker is
//! still doing). The lease makes the second job wait for the first: taken with a conditional
//! update (whoever's update matches the row holds it), renewed while the job runs, given up
//! when it ends, and free for the taking once its holder stops renewing.
//!
//! Orders carry the lease of the job minting their link (`mint_lease_owner`,
//! `mint_lease_until`), mails that of the job sending them (`lease_owner`, `lease_until`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait, QueryFilter as _};

use super::{email, order};

/// The tables whose rows jobs hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leased {
    /// An order, held by the `mint_link` job minting its link.
    Order,
    /// A mail, held by the `send_email` job sending it.
    Email,
}

/// A table's id and lease columns.
struct Columns<E: EntityTrait> {
    id: E::Column,
    owner: E::Column,
    until: E::Column,
}

impl Leased {
    /// What a job holding a row does, for the logs.
    pub fn work(self) -> &'static str {
        match self {
            Self::Order => "minting this order",
            Self::Email => "sending this mail",
        }
    }

    /// Takes the row's lease for `owner` until `until`, or renews it when `owner` holds it.
    /// False when another owner holds a lease that has not run out (or the row is gone).
    pub async fn take<C: ConnectionTrait>(
        self,
        db: &C,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        match self {
            Self::Order => take_in(db, order_columns(), id, owner, now, until).await,
            Self::Email => take_in(db, email_columns(), id, owner, now, until).await,
        }
    }

    /// Keeps the lease until `until`; false when `owner` no longer holds it (it ran out and
    /// another job took it, or the work was recorded).
    pub async fn renew<C: ConnectionTrait>(
        self,
        db: &C,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        match self {
            Self::Order => set_in(db, order_columns(), id, owner, Some(until)).await,
            Self::Email => set_in(db, email_columns(), id, owner, Some(until)).await,
        }
    }

    /// Gives the lease up, if `owner` still holds it.
    pub async fn release<C: ConnectionTrait>(
        self,
        db: &C,
        id: &str,
        owner: &str,
    ) -> Result<(), DbErr> {
        match self {
            Self::Order => set_in(db, order_columns(), id, owner, None).await,
            Self::Email => set_in(db, email_columns(), id, owner, None).await,
        }
        .map(|_| ())
    }
}

fn order_columns() -> Columns<order::Entity> {
    Columns {
        id: order::Column::Id,
        owner: order::Column::MintLeaseOwner,
        until: order::Column::MintLeaseUntil,
    }
}

fn email_columns() -> Columns<email::Entity> {
    Columns {
        id: email::Column::Id,
        owner: email::Column::LeaseOwner,
        until: email::Column::LeaseUntil,
    }
}

async fn take_in<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    columns: Columns<E>,
    id: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = E::update_many()
        .col_expr(columns.owner, Expr::value(owner))
        .col_expr(columns.until, Expr::value(until))
        .filter(columns.id.eq(id))
        .filter(
            Condition::any()
                .add(columns.until.is_null())
                .add(columns.until.lt(now))
                .add(columns.owner.eq(owner)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Renews (`Some(until)`) or gives up (`None`) `owner`'s lease; false when `owner` does not
/// hold it.
async fn set_in<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    columns: Columns<E>,
    id: &str,
    owner: &str,
    until: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let mut update = E::update_many().col_expr(columns.until, Expr::value(until));
    if until.is_none() {
        update = update.col_expr(columns.owner, Expr::value(Option::<String>::None));
    }
    let result = update
        .filter(columns.id.eq(id))
        .filter(columns.owner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
