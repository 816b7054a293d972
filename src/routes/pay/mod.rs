//! `GET /pay/{token}`: the payer's stable URL. Re-checks the order on every click (docs/api.md,
//! "How an order becomes a link") and, when the link is not minted yet, mints it now with the
//! queued job's own idempotency key, so the click and the job can never create two links;
//! clicks that arrive together share one mint ([`single_flight`]). The payer's return from
//! Stripe is [`thanks`].

mod answer;
mod once_a_minute;
mod single_flight;
mod thanks;

pub use answer::{ClickMint, page};
pub use once_a_minute::OnceAMinute;
pub use single_flight::SingleFlight;
pub use thanks::thanks;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_core::jobs::mint_link::{MintOutcome, mint_order_link};
use paylink_core::store::order::{self, LinkState, Status};
use paylink_core::store::product;

use super::pages;
use crate::routes::state::AppState;
use answer::redirect;

pub async fn click(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match respond(&state, &token).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = ?e, "pay click failed");
            page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable())
        }
    }
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
        (LinkState::Minting, _) => Ok(mint_now(state, &found).await.into_response()),
        // In the dashboard's failures until an operator retries or cancels it.
        (LinkState::Failed, _) => Ok(page(StatusCode::SERVICE_UNAVAILABLE, pages::failed())),
        _ => Ok(page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable())),
    }
}

/// Mints the order's link for this click, or waits for the mint another click started.
async fn mint_now(state: &AppState, found: &order::Model) -> ClickMint {
    let key = format!("{}#{}", found.id, found.link_generation);
    let jobs = state.jobs.clone();
    let (order_id, generation) = (found.id.clone(), found.link_generation);
    let attempts = state.click_mint_attempts;
    let flight = state.click_mints.run(&key, move || async move {
        // A payer is waiting: no lease, the idempotency key keeps this to one link.
        match mint_order_link(&jobs, &order_id, generation, attempts, None).await {
            Ok(MintOutcome::Minted(link) | MintOutcome::AlreadyMinted(link)) => {
                ClickMint::Redirect(link.url)
            }
            // Paused: Stripe refused paylink's key; the link is made once it takes it.
            Ok(MintOutcome::GaveUp(_) | MintOutcome::Skipped(_) | MintOutcome::Paused(_)) => {
                ClickMint::Preparing
            }
            Ok(MintOutcome::Refused(_)) => ClickMint::Failed,
            Err(e) => {
                tracing::error!(%order_id, error = %format!("{e:#}"), "pay click could not mint the link");
                ClickMint::Unavailable
            }
        }
    });
    flight.await.unwrap_or(ClickMint::Unavailable)
}
