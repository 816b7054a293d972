//! `GET /pay/{token}`: the payer's stable URL. Re-checks the order on every click (README,
//! "How an order becomes a link") and, when the link is not minted yet, mints it now with the
//! queued job's own idempotency key, so the click and the job can never create two links.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use paylink_core::domain::format_money;
use paylink_core::jobs::mint_link::{MintOutcome, mint_order_link};
use paylink_core::settle;
use paylink_core::store::order::{self, LinkState, Status};
use paylink_core::store::payment::{self, LearnedVia};
use paylink_core::store::{payment_link, product};

use super::pages;
use crate::startup::AppState;

pub async fn click(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match respond(&state, &token).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = ?e, "pay click failed");
            page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable())
        }
    }
}

/// `GET /pay/{token}/thanks?session_id=cs_…`: where Stripe sends the payer after paying.
#[derive(Debug, serde::Deserialize)]
pub struct ThanksQuery {
    session_id: Option<String>,
}

/// The payer's return settles the order at once: the session is read from Stripe (never
/// trusted from the URL), and when it is complete, paid, and came through one of this order's
/// links, it is recorded by the same code as a webhook (whichever comes first counts). Anything
/// else settles nothing and the page says the payment is being confirmed.
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
    let Some(session) = state
        .jobs
        .stripe
        .retrieve_checkout_session(session_id)
        .await?
    else {
        return Ok(found.status == Status::Paid);
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

async fn respond(state: &AppState, token: &str) -> anyhow::Result<Response> {
    let Some(found) = order::find_by_pay_token(&state.db, token).await? else {
        return Ok(page(StatusCode::NOT_FOUND, pages::unknown()));
    };
    match found.status {
        Status::Paid => {
            let name = product::find(&state.db, &found.product_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            return Ok(page(StatusCode::OK, pages::paid(&name)));
        }
        Status::Cancelled => return Ok(page(StatusCode::GONE, pages::cancelled())),
        Status::Pending => {}
    }
    // The timeline's "first clicked"; a failure to note it must not cost the payer the page.
    if found.first_clicked_at.is_none()
        && let Err(e) = order::note_click(&state.db, &found.id).await
    {
        tracing::warn!(order_id = %found.id, error = %e, "first click not recorded");
    }
    match (found.link_state, &found.stripe_payment_link_url) {
        (LinkState::Active, Some(url)) => Ok(redirect(url)),
        (LinkState::Minting, _) => {
            let outcome = mint_order_link(
                &state.jobs,
                &found.id,
                found.link_generation,
                state.click_mint_attempts,
                // A payer is waiting: no lease, the idempotency key keeps this to one link.
                None,
            )
            .await?;
            Ok(match outcome {
                MintOutcome::Minted(link) | MintOutcome::AlreadyMinted(link) => redirect(&link.url),
                // Paused: Stripe refused paylink's key; the link is made once it takes it.
                MintOutcome::GaveUp(_) | MintOutcome::Skipped(_) | MintOutcome::Paused(_) => {
                    page(StatusCode::SERVICE_UNAVAILABLE, pages::preparing())
                }
                // Stripe refused the link: the order's link is failed now.
                MintOutcome::Refused(_) => page(StatusCode::SERVICE_UNAVAILABLE, pages::failed()),
            })
        }
        // In the dashboard's failures until an operator retries or cancels it.
        (LinkState::Failed, _) => Ok(page(StatusCode::SERVICE_UNAVAILABLE, pages::failed())),
        _ => Ok(page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable())),
    }
}

fn redirect(url: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}
