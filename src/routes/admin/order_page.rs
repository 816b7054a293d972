//! One order: its page (the story so far, its pay URL, what can be done), and "Change amount",
//! the fix for a link Stripe refused (the same code as `PATCH /v1/orders/{id}`).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect};
use paylink_core::domain::{AmountCents, Email, OrderId};
use paylink_core::emails::{self, MailError};
use paylink_core::orders::ChangeError;
use paylink_core::store::{email, order, product};
use paylink_core::timeline;
use serde::Deserialize;

use super::csrf::{Button, Checked, Form};
use super::notice::Notice;
use super::page::{Page, html, not_found, param, unprocessable};
use super::session::Csrf;
use super::views;
use crate::routes::state::AppState;

pub(super) async fn page(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let Some(found) = order::find(&state.db, &id).await? else {
        return Ok(not_found("order"));
    };
    let product = product::find(&state.db, &found.product_id).await?;
    let steps = timeline::of_order(&state.db, &found).await?;
    let mails = email::for_order(&state.db, &found.id).await?;
    let notice = param(query.as_deref(), "notice")
        .and_then(|code| Notice::from_code(&code))
        .map(|n| format!("Order {}: {}", found.external_ref, n.message(None)));
    Ok(html(views::order_page(
        csrf.token(),
        &views::OrderView {
            order: &found,
            product: product.as_ref().map(|p| p.name.as_str()),
            steps: &steps,
            pay_url: &state.jobs.pay_url(&found.pay_token),
            dashboard: state.stripe_dashboard.as_deref(),
            notice: notice.as_deref(),
            mails: &mails,
            mail_on: state.jobs.mail.is_some(),
        },
    )))
}

#[derive(Deserialize)]
pub(super) struct AddressForm {
    #[serde(default)]
    email: String,
}

/// "Fix and resend" (the failures page): the payer's new address, as
/// `PATCH /v1/orders/{id} {payer: {email}}` changes it; the new address gets the pay-link mail.
pub(super) async fn change_payer_email(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
    Checked {
        form: Form(form), ..
    }: Checked<Form<AddressForm>>,
) -> Page {
    let email = match Email::parse("email", &form.email) {
        Ok(email) => email,
        Err(e) => return Ok(unprocessable(&e.message)),
    };
    let changed = paylink_core::orders::change_payer_email(
        &state.db,
        &id,
        email,
        paylink_core::orders::ChangedBy::Dashboard,
    )
    .await;
    if changed.is_ok() {
        tracing::info!(order_id = %id, "operator fixed a payer's address");
    }
    after_change(
        &id,
        changed,
        [
            Notice::AddressChanged,
            Notice::MailNotPending,
            Notice::AddressRaced,
        ],
    )
}

/// Where a change made from the dashboard lands: the order's page with the notice for what
/// came of it (`[done, not pending any more, raced by another change]`), or "not found".
fn after_change<T>(
    id: &OrderId,
    changed: Result<T, ChangeError>,
    [done, not_pending, raced]: [Notice; 3],
) -> Page {
    let notice = match changed {
        Ok(_) => done,
        Err(ChangeError::NotFound(_)) => return Ok(not_found("order")),
        Err(ChangeError::NotPending(..)) => not_pending,
        Err(ChangeError::Raced(_)) => raced,
        Err(ChangeError::Database(e)) => return Err(e.into()),
    };
    back_to_order(id, notice)
}

/// The order's page, with `notice` on top.
fn back_to_order(id: &OrderId, notice: Notice) -> Page {
    Ok(Redirect::to(&format!(
        "/admin/orders/{}?notice={}",
        views::path_segment(id.as_str()),
        notice.code()
    ))
    .into_response())
}

/// "Send again": the pay-link mail to the payer's address, now (the same as
/// `POST /v1/orders/{id}/send_email`).
pub(super) async fn send_email(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
    _: Checked<Form<Button>>,
) -> Page {
    let notice = match emails::send_again(&state.db, state.jobs.mail.as_deref(), &id).await {
        Ok(_) => {
            tracing::info!(order_id = %id, "operator sent the pay-link mail again");
            Notice::MailQueued
        }
        Err(MailError::NotFound(_)) => return Ok(not_found("order")),
        Err(MailError::NotPending(..)) => Notice::MailNotPending,
        Err(MailError::Off) => Notice::MailOff,
        Err(MailError::Invalid(e)) => return Ok(unprocessable(&e.message)),
        Err(MailError::Database(e)) => return Err(e.into()),
    };
    back_to_order(&id, notice)
}

#[derive(Deserialize)]
pub(super) struct AmountForm {
    /// In the currency's main unit, as people write it: `45`, `45.5`, `45.00`.
    #[serde(default)]
    amount: String,
}

/// `45`, `45.5` or `45.50` (a `$` or `,` thousands separators allowed) in the currency's
/// smallest unit, which has `digits` decimals (2 for dollars, 0 for yen); `None` for anything
/// else.
fn parse_amount(text: &str, digits: u32) -> Option<i64> {
    let cleaned: String = text
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (units, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > digits as usize
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let minor: i64 = if digits == 0 {
        0
    } else {
        format!("{fraction:0<width$}", width = digits as usize)
            .parse()
            .ok()?
    };
    units.checked_mul(10_i64.pow(digits))?.checked_add(minor)
}

pub(super) async fn change_amount(
    State(state): State<AppState>,
    Path(id): Path<OrderId>,
    Checked {
        form: Form(form), ..
    }: Checked<Form<AmountForm>>,
) -> Page {
    let Some(found) = paylink_core::store::order::find(&state.db, &id).await? else {
        return Ok(not_found("order"));
    };
    let digits = paylink_core::domain::minor_digits(&found.currency);
    let amount = match parse_amount(&form.amount, digits)
        .ok_or_else(|| format!("amount: {:?} is not an amount like 45.00", form.amount))
        .and_then(|cents| AmountCents::parse("amount", cents).map_err(|e| e.message))
    {
        Ok(amount) => amount,
        Err(message) => return Ok(unprocessable(&message)),
    };
    let changed = paylink_core::orders::change_amount(
        &state.db,
        &state.queue,
        &id,
        amount,
        paylink_core::orders::ChangedBy::Dashboard,
    )
    .await;
    if changed.is_ok() {
        tracing::info!(order_id = %id, amount_cents = amount.get(), "operator changed an order's amount");
    }
    after_change(
        &id,
        changed,
        [
            Notice::AmountChanged,
            Notice::AmountNotPending,
            Notice::AmountRaced,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_as_people_type_them() {
        for (text, cents) in [("4500", Some(4500)), ("4500.5", None)] {
            assert_eq!(parse_amount(text, 0), cents, "{text:?} in yen");
        }
        for (text, cents) in [
            ("45", Some(4500)),
            ("45.5", Some(4550)),
            ("45.50", Some(4550)),
            ("$1,234.05", Some(123_405)),
            (" 0.60 ", Some(60)),
            ("45.505", None),
            ("-4", None),
            ("4e3", None),
            ("", None),
            (".50", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_amount(text, 2), cents, "{text:?}");
        }
    }
}
