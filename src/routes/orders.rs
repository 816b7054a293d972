//! `POST /v1/orders`, `GET /v1/orders/{id}`, `PATCH /v1/orders/{id}` (a new amount, a new
//! payer address),
//! `POST /v1/orders/{id}/cancel` and `POST /v1/orders/{id}/send_email`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paylink_core::domain::{MailState, Payer};
use paylink_core::emails;
use paylink_core::store::{email, order};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::extract::JsonBody;
use crate::routes::state::AppState;
use paylink_core::domain::{AmountCents, Email, OrderId, OrderInput};
use paylink_core::orders;
use paylink_core::views::OrderView;

/// An order as `POST /v1/orders` takes it: the order, and whether to mail the payer their pay
/// link once it is active.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    external_ref: String,
    #[serde(alias = "product")]
    product_id: String,
    amount_cents: i64,
    currency: Option<String>,
    payer: Payer,
    #[serde(default)]
    send_email: bool,
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateOrder>,
) -> Result<(StatusCode, Json<OrderWithMail>), ApiError> {
    if body.send_email {
        emails::require(state.jobs.mail.as_deref())?;
    }
    let input = OrderInput {
        external_ref: body.external_ref,
        product_id: body.product_id,
        amount_cents: body.amount_cents,
        currency: body.currency,
        payer: body.payer,
    };
    let (stored, created) = orders::create(&state.db, &state.queue, &input).await?;
    if body.send_email {
        // Also on a repeat of the request: a client retrying a create that failed after the
        // order was stored still gets its mail asked for.
        email::request_for_order(&state.db, &stored.id).await?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(with_mail(&state, stored).await?)))
}

/// An order as the API shows it, with its mails (`emails`: every mail to the payer, oldest
/// first).
#[derive(Debug, Serialize)]
pub struct OrderWithMail {
    #[serde(flatten)]
    order: OrderView,
    emails: Vec<MailView>,
}

/// A mail as the API shows it.
#[derive(Debug, Serialize)]
pub struct MailView {
    id: String,
    kind: String,
    to: String,
    state: MailState,
    reply: Option<String>,
    message_id: String,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl From<email::Model> for MailView {
    fn from(m: email::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            to: m.recipient,
            state: m.state,
            reply: m.reply,
            message_id: m.message_id,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

async fn with_mail(state: &AppState, found: order::Model) -> Result<OrderWithMail, ApiError> {
    let emails = email::for_order(&state.db, &found.id).await?;
    Ok(OrderWithMail {
        order: OrderView::new(&state.jobs.public_base_url, found),
        emails: emails.into_iter().map(MailView::from).collect(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderWithMail>, ApiError> {
    let found = order::find(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {id:?}")))?;
    Ok(Json(with_mail(&state, found).await?))
}

/// `POST /v1/orders/{id}/send_email`: 202 with the mail queued (`email` is null while the
/// order's link is not active yet: the mail goes once it is); 409 for a paid or cancelled
/// order; 422 when sending is off.
pub async fn send_email(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let queued = emails::send_again(&state.db, state.jobs.mail.as_deref(), &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "email": queued.map(MailView::from) })),
    ))
}

/// What `PATCH /v1/orders/{id}` may change: the amount, the payer's address, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderChange {
    amount_cents: Option<i64>,
    payer: Option<PayerChange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayerChange {
    email: String,
}

/// A new amount (a new link, the same pay URL) and/or a new payer address (the pay-link mail
/// goes once to it, when the order asked for mail). Both are checked before either is made.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
    JsonBody(body): JsonBody<OrderChange>,
) -> Result<Json<OrderWithMail>, ApiError> {
    let amount = body
        .amount_cents
        .map(|cents| AmountCents::parse("amount_cents", cents))
        .transpose()?;
    let email = body
        .payer
        .map(|p| Email::parse("payer.email", &p.email))
        .transpose()?;
    if amount.is_none() && email.is_none() {
        return Err(ApiError::validation(
            "body",
            "nothing to change: give amount_cents, payer.email or both",
        ));
    }
    let mut changed = None;
    if let Some(email) = email {
        changed =
            Some(orders::change_payer_email(&state.db, &id, email, orders::ChangedBy::Api).await?);
    }
    if let Some(amount) = amount {
        changed = Some(
            orders::change_amount(&state.db, &state.queue, &id, amount, orders::ChangedBy::Api)
                .await?,
        );
    }
    let changed = changed.ok_or_else(|| ApiError::NotFound(format!("no order {id:?}")))?;
    Ok(Json(with_mail(&state, changed).await?))
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderView>, ApiError> {
    let cancelled = orders::cancel(
        &state.db,
        &state.queue,
        &state.jobs.public_base_url,
        &id,
        orders::ChangedBy::Api,
    )
    .await?;
    Ok(Json(OrderView::new(&state.jobs.public_base_url, cancelled)))
}
