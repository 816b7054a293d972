//! `GET /pay/{token}`: the payer's stable URL. Re-checks the order on every click (README,
//! "How an order becomes a link") and, when the link is not minted yet, mints it now with the
//! queued job's own idempotency key, so the click and the job can never create two links.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use paylink_workers::jobs::mint_link::{MintOutcome, mint_order_link};
use paylink_workers::store::order::{self, LinkState, Status};
use paylink_workers::store::product;

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

pub async fn thanks() -> Response {
    page(StatusCode::OK, pages::thanks())
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
                MintOutcome::GaveUp(_) | MintOutcome::Skipped(_) => {
                    page(StatusCode::SERVICE_UNAVAILABLE, pages::preparing())
                }
                MintOutcome::Refused(_) => {
                    page(StatusCode::SERVICE_UNAVAILABLE, pages::unavailable())
                }
            })
        }
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
