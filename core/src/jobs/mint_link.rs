//! `mint_link`: create the order's one Payment Link.
//!
//! Safe to run any number of times, concurrently, for the same order: every attempt for an order
//! and generation sends the same Idempotency-Key (until a Stripe 500 moves the retry epoch on),
//! and only an order still waiting for a link of that generation stores the result.

use apalis::prelude::BoxDynError;
use serde::{Deserialize, Serialize};

use crate::context::JobContext;
use crate::domain::OrderId;
use crate::jobs::lease::MintLease;
use crate::outbound::{EventType, outbox};
use crate::policy::Policy;
use crate::queue::JobQueue;
use crate::store::{order, payment_link, product, stripe_cursor};
use crate::stripe::{LinkRequest, MintedLink, StripeFailure};

/// Mint the link of `order_id` for link generation `generation`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MintLink {
    pub order_id: OrderId,
    pub generation: i32,
}

impl crate::queue::Job for MintLink {
    const QUEUE: &'static str = "mint_link";
}

/// What a mint attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum MintOutcome {
    /// This call created (or recovered by idempotent replay) the link and stored it.
    Minted(MintedLink),
    /// The order already has its link for this generation (another job or a click won).
    AlreadyMinted(MintedLink),
    /// Nothing to do: the order is paid, cancelled, failed, gone, or on another generation.
    Skipped(&'static str),
    /// Stripe refused the link; the order is now `failed` with Stripe's message.
    Refused(String),
    /// Every attempt allowed failed transiently; the order is still `minting`.
    GaveUp(String),
    /// Stripe refused paylink's API key: the order waits, unfailed, until it takes it
    /// (`crate::stripe_key`).
    Paused(String),
}

/// Mint, and when the retries run out, leave a visible failure an operator can retry.
/// Database errors are returned so the queue retries the job later.
impl super::BackgroundJob for MintLink {
    async fn run(self, ctx: &JobContext, _queue: &JobQueue) -> Result<(), BoxDynError> {
        mint(self, ctx).await
    }
}

async fn mint(job: MintLink, ctx: &JobContext) -> Result<(), BoxDynError> {
    let failed = |e: anyhow::Error| format!("mint_link {}: {e:#}", job.order_id);
    if ctx.key_pause.is_paused() {
        // Stripe refuses the key: the order goes back to the backlog, where the feeder leaves
        // it until the key is taken (crate::stripe_key). No Stripe call, no attempt counted.
        order::clear_enqueued(&ctx.db, &job.order_id).await?;
        return Ok(());
    }
    // One live job per order: a copy of this job (handed out twice by the queue) waits here
    // until the other finishes, or until its lease runs out because its worker died.
    let Some(lease) = MintLease::take(&ctx.db, &job.order_id, |o| {
        settled(o, job.generation).is_none()
    })
    .await
    .map_err(failed)?
    else {
        tracing::info!(order_id = %job.order_id, generation = job.generation, "mint_link done: another job settled the order");
        return Ok(());
    };
    let outcome = mint_order_link(
        ctx,
        &job.order_id,
        job.generation,
        ctx.retry.max_attempts,
        Some(&lease),
    )
    .await;
    if matches!(outcome, Ok(MintOutcome::Minted(_))) {
        // Storing the link cleared the lease already; dropping it stops the renewals.
        drop(lease);
    } else {
        lease.release().await;
    }
    let outcome = outcome.map_err(failed)?;
    if let MintOutcome::Paused(_) = &outcome {
        order::clear_enqueued(&ctx.db, &job.order_id).await?;
    }
    if let MintOutcome::GaveUp(message) = &outcome {
        let message = format!(
            "gave up after {} attempts: {message}",
            ctx.retry.max_attempts
        );
        fail_link(
            ctx,
            &job.order_id,
            job.generation,
            &message,
            order::LinkFailure::GaveUp,
        )
        .await?;
    }
    tracing::info!(order_id = %job.order_id, generation = job.generation, ?outcome, "mint_link done");
    Ok(())
}

/// Enqueues the mint job of an order stamped as enqueued (a new order, or a new generation) by
/// [`crate::queue::JobQueue::enqueue_stamped`]: when the queue refuses, the order returns to the backlog.
pub async fn hand_off(
    db: &sea_orm::DatabaseConnection,
    queue: &JobQueue,
    order_id: &str,
    generation: i32,
) -> Result<bool, sea_orm::DbErr> {
    let job = MintLink {
        order_id: order_id.into(),
        generation,
    };
    queue
        .enqueue_stamped(vec![job], order::clear_enqueued(db, order_id))
        .await
}

/// Fails the order's link of `generation` and, when the order is still pending (a cancelled
/// order's failure concerns nobody), records `order.failed` in the same transaction.
async fn fail_link(
    ctx: &JobContext,
    order_id: &str,
    generation: i32,
    message: &str,
    why: order::LinkFailure,
) -> Result<(), sea_orm::DbErr> {
    let txn = crate::store::begin_write(&ctx.db).await?;
    if order::mark_link_failed(&txn, order_id, generation, message, why).await?
        && let Some(found) = order::find(&txn, order_id)
            .await?
            .filter(|o| o.status == order::Status::Pending)
    {
        outbox::order_events_of(&txn, &ctx.public_base_url, &[EventType::Failed], found).await?;
    }
    txn.commit().await
}

/// What decides an order's Payment Link.
#[derive(Clone, Copy, Debug)]
pub struct LinkFor<'a> {
    pub order_id: &'a str,
    pub generation: i32,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub pay_token: &'a str,
    pub product_name: &'a str,
    pub category: &'a str,
}

/// The Payment Link paylink asks Stripe for: the one place that decides it, used by the mint
/// and by `paylink doctor --create-test-link`, so that the doctor checks what the mint sends.
pub fn link_request(policy: &Policy, public_base_url: &str, order: &LinkFor<'_>) -> LinkRequest {
    LinkRequest {
        order_id: order.order_id.to_owned(),
        generation: order.generation,
        amount_cents: order.amount_cents,
        currency: order.currency.to_owned(),
        product_name: order.product_name.to_owned(),
        save_card: policy.saves_card(order.category),
        single_payment: policy.deactivates_on_paid(order.category),
        redirect_url: format!(
            "{}/thanks?session_id={{CHECKOUT_SESSION_ID}}",
            crate::views::pay_url(public_base_url, order.pay_token)
        ),
    }
}

/// The idempotency key for one order, generation and retry epoch.
pub(crate) fn idempotency_key(order_id: &str, generation: i32, epoch: i32) -> String {
    format!("paylink-order-{order_id}-gen-{generation}-try-{epoch}")
}

/// Mints the order's link with up to `max_attempts` Stripe requests. Shared by the job (which
/// holds the order's `lease`) and by a payer's click on a not-yet-minted pay URL (none), which
/// is why both can never create two links.
pub async fn mint_order_link(
    ctx: &JobContext,
    order_id: &str,
    generation: i32,
    max_attempts: u32,
    lease: Option<&MintLease>,
) -> anyhow::Result<MintOutcome> {
    if ctx.key_pause.wrong_mode() {
        // A key of the wrong mode would be taken by Stripe: no request at all with it.
        return Ok(MintOutcome::Paused(
            "the Stripe key's mode is wrong for this deployment".into(),
        ));
    }
    let mut last_error = String::from("no attempt made");
    for attempt in 0..max_attempts {
        ctx.retry.pause_before(attempt).await;
        if lease.is_some_and(MintLease::lost) {
            return Ok(MintOutcome::Skipped("another job took the order over"));
        }
        let Some(current) = order::find(&ctx.db, order_id).await? else {
            return Ok(MintOutcome::Skipped("order not found"));
        };
        if let Some(done) = settled(&current, generation) {
            return Ok(done);
        }
        let Some(product) = product::find(&ctx.db, &current.product_id).await? else {
            return Ok(MintOutcome::Skipped("product not found"));
        };
        if key_may_be_forgotten(&current) {
            // Stripe prunes idempotency keys after about 24 hours and then runs the request
            // again: a link an earlier, unanswered try made would not be replayed but doubled.
            // Look for it first; if Stripe has none, go on under a fresh key.
            if let Some(link) = find_at_stripe(ctx, order_id, generation).await? {
                tracing::warn!(%order_id, generation, link_id = %link.id, "found the order's link at Stripe before reusing an old key");
                return store(ctx, &current, generation, link).await;
            }
            order::bump_retry_epoch(&ctx.db, order_id, current.retry_epoch).await?;
            continue;
        }
        let request = link_request(
            &ctx.policy,
            &ctx.public_base_url,
            &LinkFor {
                order_id: &current.id,
                generation,
                amount_cents: current.amount_cents,
                currency: &current.currency,
                pay_token: &current.pay_token,
                product_name: &product.name,
                category: &product.category,
            },
        );
        let key = idempotency_key(order_id, generation, current.retry_epoch);
        let sent_at = chrono::Utc::now();
        match ctx.stripe.create_payment_link(&request, &key).await {
            Ok(link) => {
                if ctx.key_pause.is_paused() {
                    crate::stripe_key::accepted(ctx).await?;
                }
                return store(ctx, &current, generation, link).await;
            }
            Err(failure) => {
                let message = failure.to_string();
                if crate::stripe_key::note_failure(ctx, &failure).await? {
                    tracing::warn!(%order_id, generation, error = %message, "Payment Link request refused for the key; the order waits");
                    return Ok(MintOutcome::Paused(message));
                }
                if matches!(failure, StripeFailure::Unreachable(_)) {
                    // Stripe may have run it and saved the link under this key, for about a
                    // day: note when the key was first sent (only the first time counts).
                    order::note_key_used(
                        &ctx.db,
                        order_id,
                        generation,
                        current.retry_epoch,
                        sent_at,
                    )
                    .await?;
                }
                if failure.outcome_unknown() {
                    // Stripe may have made the link all the same: have the link sweep look
                    // for it once this order has settled.
                    let at = chrono::Utc::now() + LINK_SWEEP_AFTER_UNKNOWN;
                    stripe_cursor::request_run(&ctx.db, stripe_cursor::LINKS, at).await?;
                }
                tracing::warn!(%order_id, generation, attempt, %key, error = %message, "Payment Link request failed");
                order::record_attempt(&ctx.db, order_id, Some(&message)).await?;
                if !failure.is_retryable() {
                    fail_link(
                        ctx,
                        order_id,
                        generation,
                        &message,
                        order::LinkFailure::Refused,
                    )
                    .await?;
                    return Ok(MintOutcome::Refused(message));
                }
                if failure.needs_new_key() {
                    order::bump_retry_epoch(&ctx.db, order_id, current.retry_epoch).await?;
                }
                last_error = message;
            }
        }
    }
    Ok(MintOutcome::GaveUp(last_error))
}

/// How long after a create whose outcome is unknown the link sweep runs: time enough for the
/// order's own retries to settle it, so the sweep can tell the orphan from the stored link.
const LINK_SWEEP_AFTER_UNKNOWN: chrono::Duration = chrono::Duration::seconds(10);

/// Stripe keeps idempotency keys for at least 24 hours; past 23 a replay is not counted on.
const KEY_TRUSTED_FOR: chrono::Duration = chrono::Duration::hours(23);

fn key_may_be_forgotten(current: &order::Model) -> bool {
    current
        .key_first_used_at
        .is_some_and(|first| chrono::Utc::now() - first > KEY_TRUSTED_FOR)
}

/// Most pages of active links read when looking for one order's link (100 links a page).
const LOOKUP_PAGES: usize = 50;

/// The active link Stripe holds for this order and generation, if any.
async fn find_at_stripe(
    ctx: &JobContext,
    order_id: &str,
    generation: i32,
) -> anyhow::Result<Option<MintedLink>> {
    let mut after: Option<String> = None;
    for _ in 0..LOOKUP_PAGES {
        let page = ctx
            .stripe
            .list_payment_links(Some(true), after.as_deref())
            .await?;
        if let Some(found) = page.items.into_iter().find(|l| {
            // A link minted before links carried their generation counts only for the first.
            l.order_id.as_deref() == Some(order_id)
                && l.generation.map_or(generation == 0, |g| g == generation)
        }) {
            return Ok(Some(MintedLink {
                id: found.id,
                url: found.url,
            }));
        }
        if !page.has_more {
            break;
        }
        after = page.last_id;
    }
    Ok(None)
}

/// The outcome when the order needs no link from us, or None when it is waiting for one.
fn settled(current: &order::Model, generation: i32) -> Option<MintOutcome> {
    if current.status != order::Status::Pending {
        return Some(MintOutcome::Skipped("order is no longer pending"));
    }
    if current.link_generation != generation {
        return Some(MintOutcome::Skipped("order is on another link generation"));
    }
    match current.link_state {
        order::LinkState::Minting => None,
        order::LinkState::Failed => Some(MintOutcome::Skipped("order's link failed")),
        order::LinkState::Active | order::LinkState::Deactivated => {
            Some(match stored_link(current) {
                Some(link) => MintOutcome::AlreadyMinted(link),
                None => MintOutcome::Skipped("order has no stored link"),
            })
        }
    }
}

fn stored_link(current: &order::Model) -> Option<MintedLink> {
    Some(MintedLink {
        id: current.stripe_payment_link_id.clone()?,
        url: current.stripe_payment_link_url.clone()?,
    })
}

/// Stores the link unless someone else stored one first. Every link Stripe handed back is
/// remembered in `payment_links` first, so none is ever unknown to paylink. A link of ours that
/// lost to a different stored link (the order moved on meanwhile) is switched off so it cannot
/// take money (or, if that fails, left for the reconciler, which finds it there).
async fn store(
    ctx: &JobContext,
    current: &order::Model,
    generation: i32,
    link: MintedLink,
) -> anyhow::Result<MintOutcome> {
    let order_id = current.id.as_str();
    // Two statements, not one transaction: a worker frozen between them (SIGSTOP, a paused VM)
    // must not hold the order's row lock and stall every other worker that reaches it.
    payment_link::record(
        &ctx.db,
        current,
        payment_link::Origin::Minted,
        Some(generation),
        &link.id,
        &link.url,
    )
    .await?;
    // The link and its `order.link_ready` event commit together, or neither does.
    let txn = crate::store::begin_write(&ctx.db).await?;
    if order::store_minted_link(&txn, order_id, generation, &link.id, &link.url).await? {
        outbox::order_events(
            &txn,
            &ctx.public_base_url,
            &[EventType::LinkReady],
            order_id,
        )
        .await?;
        txn.commit().await?;
        return Ok(MintOutcome::Minted(link));
    }
    txn.rollback().await?;
    // Not stored, so not counted by the store: count the request that made the link here.
    order::record_attempt(&ctx.db, order_id, None).await?;
    let now = order::find(&ctx.db, order_id).await?;
    let stored = now.as_ref().and_then(stored_link);
    if stored.as_ref().map(|s| &s.id) == Some(&link.id) {
        return Ok(MintOutcome::AlreadyMinted(link));
    }
    tracing::warn!(%order_id, link_id = %link.id, "minted link not stored: order moved on; deactivating it");
    match ctx.stripe.deactivate_payment_link(&link.id).await {
        Ok(()) => payment_link::mark_deactivated(&ctx.db, &link.id).await?,
        Err(e) => {
            tracing::error!(%order_id, link_id = %link.id, error = %e, "failed to deactivate an unstored link; the reconciler will");
        }
    }
    Ok(MintOutcome::Skipped(
        "order moved on before the link was stored",
    ))
}
