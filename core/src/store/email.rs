//! The `emails` table: one row per mail to a payer (docs/email.md). The automatic pay-link mail
//! is claimed once per order and address (`purpose` is unique with the order), in the pass that
//! finds the order's link active; its Message-ID is fixed when the row is written. Rows wait
//! for a `send_email` job as orders wait for a mint (`enqueued_at`), and one job at a time
//! holds a row (`lease_owner`, `lease_until`: [`super::lease`]).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::Serialize;

pub use crate::domain::MailState;
use crate::domain::{LinkState, Status};

use super::enqueued::not_enqueued_since;
use super::order;

/// The only kind so far: the mail that carries the order's pay URL.
pub const PAY_LINK: &str = "pay_link";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub kind: String,
    /// Unique with the order: `pay_link:{address}` for the automatic mail (so an address gets
    /// it once), `again:{id}` for a mail sent again on request.
    #[serde(skip)]
    pub purpose: String,
    pub recipient: String,
    pub message_id: String,
    pub state: MailState,
    /// The server's last reply (or why no server answered).
    pub reply: Option<String>,
    pub attempts: i32,
    #[serde(skip)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub enqueued_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn new_row(order_id: &str, purpose: String, recipient: &str, message_id: String) -> ActiveModel {
    let now = Utc::now();
    ActiveModel {
        id: Set(super::new_id("em")),
        order_id: Set(order_id.to_owned()),
        kind: Set(PAY_LINK.to_owned()),
        purpose: Set(purpose),
        recipient: Set(recipient.to_owned()),
        message_id: Set(message_id),
        state: Set(MailState::Queued),
        reply: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        enqueued_at: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        updated_at: Set(now),
    }
}

/// The start of the purpose of a mail sent again on request.
const AGAIN: &str = "again:";

impl Model {
    /// Whether this mail was asked for again (Send again), not written by the feeder.
    pub fn sent_again_on_request(&self) -> bool {
        self.purpose.starts_with(AGAIN)
    }
}

/// The automatic pay-link mail's purpose for an address.
fn pay_link_purpose(recipient: &str) -> String {
    format!("{PAY_LINK}:{}", recipient.to_lowercase())
}

/// Writes the pay-link mail of up to `limit` orders that asked for one (`send_email`), still
/// owe, have an active link and have no pay-link mail for their current address. Concurrent
/// passes write each mail once (the unique purpose). Returns how many it wrote.
pub async fn claim_due_pay_link_mails<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    message_id: impl Fn() -> String,
) -> Result<u64, DbErr> {
    let mailed = Query::select()
        .expr(Expr::val(1))
        .from(Entity)
        .and_where(Expr::col((Entity, Column::OrderId)).equals((order::Entity, order::Column::Id)))
        .and_where(Expr::col((Entity, Column::Kind)).eq(PAY_LINK))
        .and_where(
            Expr::col((Entity, Column::Recipient))
                .equals((order::Entity, order::Column::PayerEmail)),
        )
        .to_owned();
    let due: Vec<(String, String)> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::PayerEmail)
        .filter(order::Column::SendEmail.eq(true))
        .filter(order::Column::Status.eq(Status::Pending))
        .filter(order::Column::LinkState.eq(LinkState::Active))
        .filter(Condition::all().add(Expr::exists(mailed)).not())
        .order_by_asc(order::Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let rows: Vec<ActiveModel> = due
        .iter()
        .map(|(order_id, recipient)| {
            new_row(
                order_id,
                pay_link_purpose(recipient),
                recipient,
                message_id(),
            )
        })
        .collect();
    let written = Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([Column::OrderId, Column::Purpose])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(written)
}

/// A pay-link mail to the order's current address, sent again on request: a row of its own.
pub async fn queue_again<C: ConnectionTrait>(
    db: &C,
    found: &order::Model,
    message_id: String,
) -> Result<Model, DbErr> {
    let id = super::new_id("em");
    let row = ActiveModel {
        id: Set(id.clone()),
        ..new_row(
            &found.id,
            format!("{AGAIN}{id}"),
            &found.payer_email,
            message_id,
        )
    };
    row.insert(db).await
}

/// Mails waiting for a job, oldest first: queued, deferred past their wait, or (given
/// `stale_before`) enqueued before it and not finished, so the queue lost the job.
pub async fn backlog<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    stale_before: Option<DateTime<Utc>>,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(waiting_for_job(Utc::now(), stale_before))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

fn waiting_for_job(now: DateTime<Utc>, stale_before: Option<DateTime<Utc>>) -> Condition {
    Condition::all()
        .add(Column::State.is_in([MailState::Queued, MailState::Deferred, MailState::Sending]))
        .add(
            Condition::any()
                .add(Column::NextAttemptAt.is_null())
                .add(Column::NextAttemptAt.lte(now)),
        )
        .add(not_enqueued_since(Column::EnqueuedAt, stale_before))
}

/// Stamps `ids` as enqueued, those still waiting for a job.
pub async fn stamp_enqueued<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
    stale_before: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(waiting_for_job(Utc::now(), stale_before))
        .exec(db)
        .await?;
    Ok(())
}

/// Mails waiting in the database for the feeder (the tests' drain counts them).
pub async fn backlog_count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find()
        .filter(waiting_for_job(Utc::now(), None))
        .count(db)
        .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// Marks the mail as being sent by `owner` (one more try), if it still waits to be: the row as
/// it now stands, or `None` when it is finished or another job holds it.
pub async fn begin_try<C: ConnectionTrait>(
    db: &C,
    id: &str,
    owner: &str,
) -> Result<Option<Model>, DbErr> {
    let rows = Entity::update_many()
        .col_expr(Column::State, Expr::value(MailState::Sending))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .filter(Column::State.is_in([MailState::Queued, MailState::Deferred, MailState::Sending]))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// Records what the try came to and gives the lease up. A deferred mail waits for
/// `next_attempt_at`, then the feeder hands it out again.
pub async fn finish_try<C: ConnectionTrait>(
    db: &C,
    id: &str,
    owner: &str,
    state: MailState,
    reply: Option<&str>,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = Entity::update_many()
        .col_expr(Column::State, Expr::value(state))
        .col_expr(Column::Reply, Expr::value(reply.map(str::to_owned)))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now));
    if state == MailState::Sent {
        update = update.col_expr(Column::SentAt, Expr::value(now));
    }
    if state == MailState::Deferred {
        update = update.col_expr(
            Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    }
    let result = update
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Whether the order's mail to `recipient` was refused for good before: the address gets no
/// more mail for this order until it changes.
pub async fn was_rejected<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    recipient: &str,
) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .filter(Column::Recipient.eq(recipient))
        .filter(Column::State.eq(MailState::Rejected))
        .count(db)
        .await?
        > 0)
}

/// An order's mails, oldest first.
pub async fn for_order<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// A blast's mails by state, as `GET /v1/blasts/{id}` shows them (a mail being sent counts as
/// queued; a suppressed one is left out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MailCounts {
    pub queued: u64,
    pub sent: u64,
    pub deferred: u64,
    pub rejected: u64,
    pub failed: u64,
}

pub async fn counts_for_blast<C: ConnectionTrait>(
    db: &C,
    blast_id: &str,
) -> Result<MailCounts, DbErr> {
    let in_blast = Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(Expr::col(order::Column::BlastId).eq(blast_id))
        .to_owned();
    let rows: Vec<(MailState, i64)> = Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Expr::col(Column::Id).count(), "n")
        .filter(Column::OrderId.in_subquery(in_blast))
        .group_by(Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = MailCounts::default();
    for (state, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match state {
            MailState::Queued | MailState::Sending => counts.queued += n,
            MailState::Sent => counts.sent += n,
            MailState::Deferred => counts.deferred += n,
            MailState::Rejected => counts.rejected += n,
            MailState::Failed => counts.failed += n,
            MailState::Suppressed => {}
        }
    }
    Ok(counts)
}

/// Asks for the order's pay-link mail (`POST /v1/orders {…, send_email: true}`): it is written
/// once the order's link is active. Asking again changes nothing.
pub async fn request_for_order<C: ConnectionTrait>(db: &C, order_id: &str) -> Result<(), DbErr> {
    order::Entity::update_many()
        .col_expr(order::Column::SendEmail, Expr::value(true))
        .filter(order::Column::Id.eq(order_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks for the pay-link mail of every order of the blast, with the organiser's `message`
/// above the button.
pub async fn request_for_blast<C: ConnectionTrait>(
    db: &C,
    blast_id: &str,
    message: Option<&str>,
) -> Result<(), DbErr> {
    order::Entity::update_many()
        .col_expr(order::Column::SendEmail, Expr::value(true))
        .col_expr(
            order::Column::EmailMessage,
            Expr::value(message.map(str::to_owned)),
        )
        .filter(order::Column::BlastId.eq(blast_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Rejected mails whose order still owes and still has the rejected address: the addresses an
/// operator should fix (newest first), each with its order.
pub async fn rejected_unfixed<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<(Model, order::Model)>, DbErr> {
    let rejected = Entity::find()
        .filter(Column::State.eq(MailState::Rejected))
        .order_by_desc(Column::UpdatedAt)
        .limit(limit.saturating_mul(4))
        .all(db)
        .await?;
    let mut unfixed = Vec::new();
    for mail in rejected {
        if unfixed.len() as u64 >= limit {
            break;
        }
        if unfixed
            .iter()
            .any(|(m, _): &(Model, order::Model)| m.order_id == mail.order_id)
        {
            continue;
        }
        if let Some(found) = order::find(db, &mail.order_id).await?
            && found.status == Status::Pending
            && found.payer_email.eq_ignore_ascii_case(&mail.recipient)
        {
            unfixed.push((mail, found));
        }
    }
    Ok(unfixed)
}
