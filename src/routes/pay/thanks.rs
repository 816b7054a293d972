//! `GET /pay/{token}/thanks?session_id=cs_…`: where Stripe sends the payer after paying.
//!
//! The return settles the order at once when it can: the session is read from Stripe (never
//! trusted from the URL), and when it is complete, paid, and came through one of this order's
//! links, it is recorded by the same code as a webhook (whichever comes first counts).
//!
//! The page never waits for Stripe's rate limit: pay URLs are in every payer's inbox, and a
//! request that waited for a turn could be replayed by the thousand with made-up session ids,
//! each holding a connection (docs/security.md). So Stripe is read only when a turn is free
//! at once, and at most once per order a minute ([`super::once_a_minute`]); otherwise the
//! page says the payment is being confirmed, and the webhook or the event sweep settles it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::domain::format_money;
use paylink_core::settle;
use paylink_core::store::order::{self, Status};
use paylink_core::store::payment::{self, LearnedVia};
use paylink_core::store::{payment_link, product};
use paylink_core::stripe::ReadNow;

use super::answer::page;
use crate::routes::pages;
use crate::routes::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct ThanksQuery {
    session_id: Option<String>,
}

/// Anything that does not settle the order leaves the page saying the payment is being
/// confirmed; it reloads itself from paylink's own record.
pub async fn thanks(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<ThanksQuery>,
) -> Response {
    // Reloads look at paylink's own record only: one Stripe read per return, not per reload.
    let reload = format!("/pay/{token}/thanks");
    let found = match order::find_by_pay_token(&state.db, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return page(StatusCode::NOT_FOUND, pages::unknown()),
        Err(e) => {
            // The webhook or the sweep still records the payment: the payer need not know.
            tracing::warn!(error = %e, "return page could not read the order");
            return page(StatusCode::OK, pages::thanks_confirming(&reload, None));
        }
    };
    let item = item_of(&state, &found).await;
    match confirm(&state, &found, query.session_id.as_deref()).await {
        Ok(true) => page(StatusCode::OK, pages::thanks_paid(&item)),
        Ok(false) => page(
            StatusCode::OK,
            pages::thanks_confirming(&reload, Some(&item)),
        ),
        Err(e) => {
            // The webhook or the sweep still records the payment: the payer need not know.
            tracing::warn!(error = %format!("{e:#}"), "return page could not confirm the payment");
            page(
                StatusCode::OK,
                pages::thanks_confirming(&reload, Some(&item)),
            )
        }
    }
}

/// The product's name and the amount: what Stripe says was paid once the order is paid,
/// else what the order asks. A product that cannot be read leaves the name out.
async fn item_of(state: &AppState, found: &order::Model) -> pages::Item {
    let name = match product::find(&state.db, &found.product_id).await {
        Ok(product) => product.map(|p| p.name).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(order_id = %found.id, error = %e, "product not read for the thank-you page");
            String::new()
        }
    };
    let (amount, currency) = match (found.paid_amount_cents, &found.paid_currency) {
        (Some(amount), Some(currency)) => (amount, currency.as_str()),
        _ => (found.amount_cents, found.currency.as_str()),
    };
    pages::Item {
        name,
        amount: format_money(amount, currency),
    }
}

/// Whether the order is paid after looking at `session_id`.
async fn confirm(
    state: &AppState,
    found: &order::Model,
    session_id: Option<&str>,
) -> anyhow::Result<bool> {
    // Only a pending order is settled here; a paid or cancelled one is answered from its record
    // (a payment after a cancel is recorded, and flagged, by the webhook or the sweep).
    let session_id = session_id.filter(|s| s.starts_with("cs_") && s.len() <= 255);
    let Some(session_id) = session_id.filter(|_| found.status == Status::Pending) else {
        return Ok(found.status == Status::Paid);
    };
    if let Some(recorded) = payment::find(&state.db, session_id).await? {
        return Ok(recorded.order_id == found.id);
    }
    if !state.return_reads.take(&found.id) {
        tracing::debug!(order_id = %found.id, "return page: Stripe was read for this order within the minute");
        return Ok(false);
    }
    let session = match state
        .jobs
        .stripe
        .retrieve_checkout_session_now(session_id)
        .await?
    {
        ReadNow::Done(Some(session)) => session,
        ReadNow::Done(None) => return Ok(found.status == Status::Paid),
        ReadNow::Busy => {
            metrics::counter!("paylink_return_page_reads_skipped_total").increment(1);
            state.return_reads.give_back(&found.id);
            return Ok(false);
        }
    };
    let owner = settle::find_order(&state.jobs, &session).await?;
    let through_ours = match &session.payment_link {
        Some(link) => {
            found.stripe_payment_link_id.as_deref() == Some(link.as_str())
                || payment_link::find(&state.db, link)
                    .await?
                    .is_some_and(|l| l.order_id == found.id)
        }
        None => false,
    };
    if !session.is_paid() || !through_ours || owner.is_none_or(|o| o.id != found.id) {
        if !through_ours {
            tracing::warn!(order_id = %found.id, checkout_session = %session_id, "return page with a session that is not this order's: nothing settled");
        }
        return Ok(found.status == Status::Paid);
    }
    let settled =
        settle::settle(&state.jobs, &state.queue, &session, LearnedVia::ReturnPage).await?;
    // Paid, or recorded already; an issue (a cancel got there first) is not "recorded".
    Ok(!matches!(
        settled,
        settle::Settled::Flagged(payment::Issue::PaidAfterCancel | payment::Issue::PaidTwice)
            | settle::Settled::UnknownOrder
    ))
}
