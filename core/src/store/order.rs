//! Orders: one payer, one amount, one stable pay URL, at most one live Payment Link.
//!
//! Every transition here is a conditional `UPDATE … WHERE` whose affected-row count says whether
//! this caller won; callers never read-then-write.

use super::enqueued::{claim, not_enqueued_since};
use super::order_change;
use crate::domain::Move;
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};

pub use crate::domain::{LinkFailure, LinkState, NewOrder, Status};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub external_ref: String,
    pub product_id: String,
    pub blast_id: Option<String>,
    pub payer_email: String,
    pub payer_name: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: Status,
    pub link_state: LinkState,
    /// Moves on whenever the order needs a different link (amount change); part of the
    /// idempotency key, and the guard on storing a minted link.
    pub link_generation: i32,
    /// Moves on only after Stripe answered 500 for the current key (Stripe replays that 500
    /// for the same key forever, so the next try needs a new one).
    pub retry_epoch: i32,
    /// Stripe requests made for this order's links, for the operator.
    pub attempts: i32,
    pub stripe_payment_link_id: Option<String>,
    pub stripe_payment_link_url: Option<String>,
    #[sea_orm(unique)]
    pub pay_token: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub stripe_checkout_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the current mint job went on the queue; NULL while the order waits in the backlog.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// The order's timeline, for the operator: the current link stored, the payer's first
    /// click, the link switched off, the order cancelled.
    pub minted_at: Option<DateTime<Utc>>,
    pub first_clicked_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The `mint_link` job minting the link now, and until when it may (see
    /// [`super::lease`]).
    pub mint_lease_owner: Option<String>,
    pub mint_lease_until: Option<DateTime<Utc>>,
    /// What the payment that settled the order paid (Stripe's `amount_total` and `currency`).
    pub paid_amount_cents: Option<i64>,
    pub paid_currency: Option<String>,
    /// A payment that did not match the order (see [`super::payment::Issue`]), for the operator.
    pub payment_issue: Option<String>,
    /// When the current idempotency key (generation and retry epoch) was first sent and got no
    /// answer (Stripe may have made the link). Stripe forgets keys after about 24 hours; an
    /// older key is not trusted to replay.
    pub key_first_used_at: Option<DateTime<Utc>>,
    /// Why the link failed, while `link_state` is failed (NULL for failures recorded before
    /// paylink kept the reason: treated as `gave_up`).
    pub link_failure: Option<LinkFailure>,
    /// The order's zero-based row in its blast, so the blast's result lists its orders as they
    /// were submitted (they share one `created_at`); NULL outside a blast.
    pub blast_row: Option<i32>,
    /// Whether the payer is mailed their pay link once it is active (store::email).
    pub send_email: bool,
    /// The organiser's own text above the mail's button.
    pub email_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// An update that makes the move `m` (see [`Move`]): it touches only rows in a state `m` may
/// start from, and sets the status and link state `m` leads to. Every change of either column
/// goes through here; callers narrow it further (the id, the generation, the stored link).
pub(crate) fn guarded(m: Move) -> sea_orm::UpdateMany<Entity> {
    let from = m.starts_from();
    let mut update = Entity::update_many()
        .filter(Column::Status.is_in(from.statuses.iter().copied()))
        .filter(Column::LinkState.is_in(from.links.iter().copied()));
    let (status, link) = m.sets();
    if let Some(status) = status {
        update = update.col_expr(Column::Status, Expr::value(status.to_value()));
    }
    if let Some(link) = link {
        update = update.col_expr(Column::LinkState, Expr::value(link.to_value()));
    }
    update
}

/// Whether a stored order is the one `new` describes (same caller key, same content): a retry,
/// not a conflict.
pub fn same_order(stored: &Model, new: &NewOrder) -> bool {
    stored.amount_cents == new.amount_cents.get()
        && stored.product_id == new.product_id
        && stored.currency == new.currency.as_str()
        && stored.payer_email == new.payer_email.as_str()
}

/// A new order's row: pending, waiting for its first link, with a fresh pay token.
fn new_active(new: NewOrder, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        id: Set(super::new_id("ord")),
        external_ref: Set(new.external_ref),
        product_id: Set(new.product_id),
        blast_id: Set(new.blast_id),
        payer_email: Set(new.payer_email.into_inner()),
        payer_name: Set(new.payer_name),
        amount_cents: Set(new.amount_cents.get()),
        currency: Set(new.currency.into_inner()),
        status: Set(Status::Pending),
        link_state: Set(LinkState::Minting),
        link_generation: Set(0),
        retry_epoch: Set(0),
        attempts: Set(0),
        stripe_payment_link_id: Set(None),
        stripe_payment_link_url: Set(None),
        pay_token: Set(new_pay_token()),
        last_error: Set(None),
        stripe_checkout_session_id: Set(None),
        stripe_payment_intent_id: Set(None),
        stripe_customer_id: Set(None),
        paid_at: Set(None),
        last_attempt_at: Set(None),
        enqueued_at: Set(None),
        minted_at: Set(None),
        first_clicked_at: Set(None),
        deactivated_at: Set(None),
        cancelled_at: Set(None),
        mint_lease_owner: Set(None),
        mint_lease_until: Set(None),
        paid_amount_cents: Set(None),
        paid_currency: Set(None),
        payment_issue: Set(None),
        key_first_used_at: Set(None),
        link_failure: Set(None),
        blast_row: Set(None),
        send_email: Set(false),
        email_message: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Rows per INSERT when storing many orders (PostgreSQL allows 65,535 bind parameters).
const INSERT_CHUNK: usize = 1000;

/// Inserts a blast's orders, each with its row in the blast, skipping any whose `external_ref`
/// exists. Returns how many were new. Run it inside a transaction to make a blast
/// all-or-nothing.
pub(crate) async fn insert_many<C: ConnectionTrait>(
    db: &C,
    orders: Vec<(usize, NewOrder)>,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut inserted = 0;
    let mut rows = orders
        .into_iter()
        .map(|(row, o)| ActiveModel {
            blast_row: Set(i32::try_from(row).ok()),
            ..new_active(o, now)
        })
        .peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
        let result = Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(Column::ExternalRef)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await;
        match result {
            Ok(n) => inserted += n,
            Err(DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(inserted)
}

/// The stored orders among `external_refs`.
pub(crate) async fn find_by_external_refs<C: ConnectionTrait>(
    db: &C,
    external_refs: &[String],
) -> Result<Vec<Model>, DbErr> {
    let mut found = Vec::new();
    let external_refs: Vec<&String> = external_refs
        .iter()
        .filter(|r| super::could_be_key(r))
        .collect();
    for chunk in external_refs.chunks(INSERT_CHUNK) {
        found.extend(
            Entity::find()
                .filter(Column::ExternalRef.is_in(chunk.iter().map(|r| (*r).clone())))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

/// Orders waiting for a mint job: pending, minting, and never enqueued or (given
/// `stale_before`) enqueued before it, so the queue lost their job.
pub(crate) fn waiting_for_job(
    stale_before: Option<DateTime<Utc>>,
) -> sea_orm::sea_query::Condition {
    use sea_orm::sea_query::Condition;
    Condition::all()
        .add(Column::LinkState.eq(LinkState::Minting))
        .add(Column::Status.eq(Status::Pending))
        .add(not_enqueued_since(Column::EnqueuedAt, stale_before))
}

/// Up to `limit` orders waiting for a mint job (see [`waiting_for_job`]), oldest first. The
/// feeder enqueues their jobs, then stamps them with [`stamp_enqueued`]: a process killed in
/// between leaves them unstamped, so the next pass enqueues them again (a duplicate job costs
/// a little work), where stamping first would leave them lost until `stale_after`.
pub async fn backlog<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    stale_before: Option<DateTime<Utc>>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .filter(waiting_for_job(stale_before))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Stamps `ids` as enqueued, those still waiting for a job; returns the rows it stamped.
pub async fn stamp_enqueued<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = String>,
    stale_before: Option<DateTime<Utc>>,
) -> Result<Vec<Model>, DbErr> {
    Entity::update_many()
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(Column::Id.is_in(ids))
        .filter(waiting_for_job(stale_before))
        .exec_with_returning(db)
        .await
}

/// Orders that must have no active link but still have one, past `stale_before` and with
/// nothing enqueued for them since: paid orders in `categories`, and cancelled orders. Their
/// `deactivate_link` job was lost (or gave up). Stamps `enqueued_at` on the ones it returns, so
/// a sweep takes each once per staleness period.
pub(crate) async fn claim_unclosed<C: ConnectionTrait>(
    db: &C,
    categories: &[String],
    limit: u64,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::sea_query::{Condition, Query};
    let closing_products = Query::select()
        .column(super::product::Column::Id)
        .from(super::product::Entity)
        .and_where(super::product::Column::Category.is_in(categories.iter().cloned()))
        .to_owned();
    let unclosed = Condition::all()
        .add(Column::LinkState.eq(LinkState::Active))
        .add(Column::StripePaymentLinkId.is_not_null())
        .add(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::Status.eq(Status::Paid))
                        .add(Column::PaidAt.lt(stale_before))
                        .add(Column::ProductId.in_subquery(closing_products)),
                )
                .add(
                    Condition::all()
                        .add(Column::Status.eq(Status::Cancelled))
                        .add(Column::CancelledAt.lt(stale_before)),
                ),
        )
        .add(not_enqueued_since(Column::EnqueuedAt, Some(stale_before)));
    claim::<Entity, _>(
        db,
        Column::Id,
        Column::EnqueuedAt,
        Column::UpdatedAt,
        unclosed,
        limit,
    )
    .await
}

/// Returns the order to the backlog: its mint job could not be enqueued, so the feeder takes it.
pub async fn clear_enqueued<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Notes that a job for the order (its link's `deactivate_link`) was just enqueued, so the
/// reconciler leaves it to that job until `stale_after` has passed.
pub(crate) async fn note_enqueued<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A blast's orders, oldest first, one page at a time.
pub async fn list_for_blast<C: ConnectionTrait>(
    db: &C,
    blast_id: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    // Both databases take OFFSET and LIMIT as signed 64-bit numbers: nothing lies past that.
    if i64::try_from(offset).is_err() {
        return Ok(Vec::new());
    }
    let limit = std::cmp::Ord::min(limit, i64::MAX as u64);
    // In the blast's row order; orders stored before rows were recorded (NULL) by creation.
    Entity::find()
        .filter(Column::BlastId.eq(blast_id))
        .order_by_asc(Column::BlastRow)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await
}

/// 128 random bits, hex encoded: URL-safe and unguessable, so a pay URL reveals nothing.
pub(crate) fn new_pay_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Inserts the order, stamped as enqueued, unless one with the same `external_ref` exists. Returns the stored order
/// and whether this call created it (the schema's unique index decides, not a prior read).
pub async fn insert_or_get<C: ConnectionTrait>(
    db: &C,
    new: NewOrder,
) -> Result<(Model, bool), DbErr> {
    let external_ref = new.external_ref.clone();
    let now = Utc::now();
    let mut active = new_active(new, now);
    // The caller enqueues its mint job right away: stamped now, so the feeder leaves it alone
    // (the caller clears the stamp if enqueueing fails).
    active.enqueued_at = Set(Some(now));
    let inserted = Entity::insert(active)
        .on_conflict(
            OnConflict::column(Column::ExternalRef)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let order = find_by(db, By::ExternalRef(&external_ref))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("order {external_ref} after insert")))?;
    Ok((order, inserted == 1))
}

/// The ways an order is named: its id, the caller's key, the payer's pay URL and the Payment
/// Link it holds now (a link of an older generation is found through
/// [`super::payment_link::order_of`]).
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    Id(&'a str),
    ExternalRef(&'a str),
    PayToken(&'a str),
    CurrentLink(&'a str),
}

/// The one order finder: the order `by` names, if any. A key that could name no row (see
/// [`super::could_be_key`]) finds nothing without asking the database.
pub async fn find_by<C: ConnectionTrait>(db: &C, by: By<'_>) -> Result<Option<Model>, DbErr> {
    let (column, key) = match by {
        By::Id(key) => (Column::Id, key),
        By::ExternalRef(key) => (Column::ExternalRef, key),
        By::PayToken(key) => (Column::PayToken, key),
        By::CurrentLink(key) => (Column::StripePaymentLinkId, key),
    };
    if !super::could_be_key(key) {
        return Ok(None);
    }
    Entity::find().filter(column.eq(key)).one(db).await
}

/// The order with this id ([`find_by`]).
pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Model>, DbErr> {
    find_by(db, By::Id(id)).await
}

/// The order behind a pay URL ([`find_by`]).
pub async fn find_by_pay_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<Model>, DbErr> {
    find_by(db, By::PayToken(token)).await
}

/// Stores a minted link, and counts the Stripe request that made it as an attempt, only if the
/// order is still pending and waiting for a link of this generation. Returns false when another job (or a click) stored it first, or the order moved on.
pub async fn store_minted_link<C: ConnectionTrait>(
    db: &C,
    id: &str,
    generation: i32,
    link_id: &str,
    link_url: &str,
) -> Result<bool, DbErr> {
    let result = guarded(Move::StoreLink)
        .col_expr(Column::StripePaymentLinkId, Expr::value(link_id))
        .col_expr(Column::StripePaymentLinkUrl, Expr::value(link_url))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::MintedAt, Expr::value(Utc::now()))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        // The request that made the link counts as an attempt (one write, not two, per link).
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastAttemptAt, Expr::value(Utc::now()))
        // Minted: the mint lease has nothing left to guard (its release is then a no-op that
        // writes nothing, one row version fewer per link).
        .col_expr(Column::MintLeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::MintLeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::LinkGeneration.eq(generation))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the link as failed for good (a Stripe refusal retrying cannot fix, or retries spent),
/// keeping the reason for the operator. Only a link still being minted at this generation fails.
pub async fn mark_link_failed<C: ConnectionTrait>(
    db: &C,
    id: &str,
    generation: i32,
    error: &str,
    why: LinkFailure,
) -> Result<bool, DbErr> {
    let result = guarded(Move::FailLink)
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::LinkFailure, Expr::value(why.to_value()))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::LinkGeneration.eq(generation))
        .exec(db)
        .await?;
    let failed = result.rows_affected == 1;
    if failed {
        // For the order's story; the failure itself is recorded above.
        let by = match why {
            LinkFailure::Refused => order_change::ChangedBy::Stripe,
            LinkFailure::GaveUp | LinkFailure::KeyRefused => order_change::ChangedBy::Worker,
        };
        order_change::record(
            db,
            id,
            order_change::Change::LinkFailed,
            by,
            None,
            Some(error),
        )
        .await?;
    }
    Ok(failed)
}

/// Counts one Stripe request for the order and keeps its error (None on success).
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    id: &str,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastAttemptAt, Expr::value(now))
        .col_expr(Column::LastError, Expr::value(error.map(str::to_owned)))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves the retry epoch on from `from`, after Stripe answered 500 for the key built with it.
/// Conditional, so two jobs that both saw the replayed 500 move it on once, not twice.
pub async fn bump_retry_epoch<C: ConnectionTrait>(
    db: &C,
    id: &str,
    from: i32,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::RetryEpoch, Expr::value(from + 1))
        .col_expr(
            Column::KeyFirstUsedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::RetryEpoch.eq(from))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What a completed Checkout Session tells us about the payment.
#[derive(Clone, Debug, Default)]
pub struct Payment {
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub customer_id: Option<String>,
    /// Stripe's `amount_total` and `currency` for the session.
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    /// Whether it matched the order (an amount mismatch still settles the order).
    pub issue: Option<super::payment::Issue>,
}

/// Marks a pending order paid and records the payment. Returns false when it was not pending
/// (already paid by an earlier or duplicate event, or cancelled): exactly one payment wins.
pub async fn mark_paid<C: ConnectionTrait>(
    db: &C,
    id: &str,
    payment: &Payment,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let result = guarded(Move::Pay)
        .col_expr(Column::PaidAt, Expr::value(now))
        .col_expr(
            Column::StripeCheckoutSessionId,
            Expr::value(payment.checkout_session_id.clone()),
        )
        .col_expr(
            Column::StripePaymentIntentId,
            Expr::value(payment.payment_intent_id.clone()),
        )
        .col_expr(
            Column::StripeCustomerId,
            Expr::value(payment.customer_id.clone()),
        )
        .col_expr(Column::PaidAmountCents, Expr::value(payment.amount_cents))
        .col_expr(Column::PaidCurrency, Expr::value(payment.currency.clone()))
        .col_expr(
            Column::PaymentIssue,
            Expr::value(payment.issue.map(|i| i.as_str().to_owned())),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Flags a payment that could not settle the order (it was paid already, or cancelled). The
/// order keeps its state; its payment fields are filled only when no payment filled them.
pub(crate) async fn flag_payment_issue<C: ConnectionTrait>(
    db: &C,
    id: &str,
    issue: super::payment::Issue,
    payment: &Payment,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Entity::update_many()
        .col_expr(Column::PaymentIssue, Expr::value(issue.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Entity::update_many()
        .col_expr(
            Column::StripeCheckoutSessionId,
            Expr::value(payment.checkout_session_id.clone()),
        )
        .col_expr(
            Column::StripePaymentIntentId,
            Expr::value(payment.payment_intent_id.clone()),
        )
        .col_expr(
            Column::StripeCustomerId,
            Expr::value(payment.customer_id.clone()),
        )
        .col_expr(Column::PaidAmountCents, Expr::value(payment.amount_cents))
        .col_expr(Column::PaidCurrency, Expr::value(payment.currency.clone()))
        .filter(Column::Id.eq(id))
        .filter(Column::StripeCheckoutSessionId.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Notes when the order's current idempotency key was first sent with no answer (`at`; a
/// no-op once noted): Stripe may hold a link under it, but only for about a day.
pub(crate) async fn note_key_used<C: ConnectionTrait>(
    db: &C,
    id: &str,
    generation: i32,
    epoch: i32,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::KeyFirstUsedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::LinkGeneration.eq(generation))
        .filter(Column::RetryEpoch.eq(epoch))
        .filter(Column::KeyFirstUsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Records that the order's stored link `link_id` was switched off at Stripe. Only the link
/// still stored on the order changes its state.
pub(crate) async fn mark_link_deactivated<C: ConnectionTrait>(
    db: &C,
    id: &str,
    link_id: &str,
) -> Result<bool, DbErr> {
    let result = guarded(Move::DeactivateLink)
        .col_expr(Column::DeactivatedAt, Expr::value(Utc::now()))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::StripePaymentLinkId.eq(link_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Moves a pending order on to a fresh link generation (its current link can take no more
/// payments, or its amount changes to `new_amount`), clearing the old link so that the pay URL
/// mints the new one, stamped as enqueued (the caller enqueues the mint job at once).
/// Conditional on the generation the caller saw, so concurrent callers move it on once.
pub(crate) async fn start_new_generation<C: ConnectionTrait>(
    db: &C,
    id: &str,
    from_generation: i32,
    new_amount: Option<i64>,
) -> Result<bool, DbErr> {
    let none = Option::<String>::None;
    let mut update = guarded(Move::NewGeneration)
        .col_expr(Column::LinkGeneration, Expr::value(from_generation + 1))
        .col_expr(Column::RetryEpoch, Expr::value(0))
        .col_expr(
            Column::KeyFirstUsedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::StripePaymentLinkId, Expr::value(none.clone()))
        .col_expr(Column::StripePaymentLinkUrl, Expr::value(none.clone()))
        .col_expr(Column::LastError, Expr::value(none))
        .col_expr(Column::MintedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::EnqueuedAt, Expr::value(Utc::now()))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(amount) = new_amount {
        update = update.col_expr(Column::AmountCents, Expr::value(amount));
    }
    let result = update
        .filter(Column::Id.eq(id))
        .filter(Column::LinkGeneration.eq(from_generation))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Keeps an error for the operator without changing the order's state.
pub(crate) async fn note_error<C: ConnectionTrait>(
    db: &C,
    id: &str,
    error: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// When the first order was created: nothing can have been paid through paylink before.
pub(crate) async fn earliest_created<C: ConnectionTrait>(
    db: &C,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .order_by_asc(Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// Changes a pending order's payer address from `from` to `to`; false when the order is no
/// longer pending or its address is no longer `from` (another change got there first).
pub async fn change_payer_email<C: ConnectionTrait>(
    db: &C,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::PayerEmail, Expr::value(to))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(Status::Pending))
        .filter(Column::PayerEmail.eq(from))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the payer's first click on the pay URL (later clicks change nothing).
pub async fn note_click<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::FirstClickedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::FirstClickedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
