//! The dashboard's failures page and the actions it offers: retry the failed orders that match
//! a filter, or one order; cancel an order; replay a Stripe event.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_core::store::operator::{self, FailureFilter};
use paylink_core::store::{email, order, payment};
use serde::Deserialize;

use super::csrf::{Button, Checked, Form};
use super::form::AdminQuery;
use super::notice::Notice;
use super::page::{Page, html};
use super::session::Csrf;
use super::views::{self, Filter};
use crate::routes::state::AppState;

#[derive(Deserialize)]
pub(super) struct FailuresQuery {
    #[serde(flatten)]
    filter: Filter,
    /// A [`Notice`]'s code; anything else shows nothing.
    #[serde(default)]
    notice: String,
    /// The notice's count, where it has one.
    count: Option<String>,
    /// The order the notice is about: shown by its stored external ref.
    order: Option<String>,
}

fn failure_filter(filter: &Filter) -> FailureFilter {
    FailureFilter {
        order_id: None,
        blast_id: Some(filter.blast.trim().to_owned()).filter(|b| !b.is_empty()),
        error_contains: Some(filter.error.trim().to_owned()).filter(|e| !e.is_empty()),
    }
}

pub(super) async fn failures(
    State(state): State<AppState>,
    csrf: Csrf,
    AdminQuery(query): AdminQuery<FailuresQuery>,
) -> Page {
    let orders = operator::failures(&state.db, &failure_filter(&query.filter), 500).await?;
    let events = operator::failed_events(&state.db, 200).await?;
    let payments = payment::needing_attention(&state.db, 200).await?;
    let rejected_mail = email::rejected_unfixed(&state.db, 200).await?;
    let notice = Notice::from_code(&query.notice).map(|n| n.message(query.count.as_deref()));
    // The order an action was about, named by its external ref as stored (never by the link).
    let subject = match query.order.as_deref() {
        Some(id) if notice.is_some() => order::find(&state.db, id).await?.map(|o| o.external_ref),
        _ => None,
    };
    let notice = notice.map(|n| match subject {
        Some(external_ref) => format!("Order {external_ref}: {n}"),
        None => n,
    });
    Ok(html(views::failures(
        csrf.token(),
        &query.filter,
        views::Failures {
            orders: &orders,
            events: &events,
            payments: &payments,
            rejected_mail: &rejected_mail,
        },
        notice.as_deref(),
    )))
}

/// Back to the failures page, keeping the filter, with a notice (and its count, or the order it
/// is about, if any).
fn back_to_failures(
    filter: &Filter,
    notice: Notice,
    count: Option<u64>,
    order_id: Option<&str>,
) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("blast", &filter.blast)
        .append_pair("error", &filter.error)
        .append_pair("notice", notice.code());
    if let Some(count) = count {
        query.append_pair("count", &count.to_string());
    }
    if let Some(id) = order_id {
        query.append_pair("order", id);
    }
    Redirect::to(&format!("/admin/failures?{}", query.finish())).into_response()
}

pub(super) async fn retry_matching(
    State(state): State<AppState>,
    Checked {
        form: Form(filter), ..
    }: Checked<Form<Filter>>,
) -> Page {
    let n = operator::retry_failed(&state.db, &failure_filter(&filter)).await?;
    tracing::info!(orders = n, "operator retried failed orders");
    Ok(back_to_failures(
        &filter,
        Notice::RetriedMatching,
        Some(n),
        None,
    ))
}

pub(super) async fn retry_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Checked<Form<Button>>,
) -> Page {
    let filter = FailureFilter {
        order_id: Some(id.clone()),
        ..FailureFilter::default()
    };
    let n = operator::retry_failed(&state.db, &filter).await?;
    tracing::info!(order_id = %id, retried = n, "operator retried an order");
    let notice = if n == 1 {
        Notice::Retried
    } else {
        Notice::NotFailed
    };
    Ok(back_to_failures(
        &Filter::default(),
        notice,
        None,
        Some(&id),
    ))
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<paylink_core::domain::OrderId>,
    _: Checked<Form<Button>>,
) -> Page {
    use paylink_core::orders::ChangeError;
    let notice = match paylink_core::orders::cancel(
        &state.db,
        &state.queue,
        &state.jobs.public_base_url,
        &id,
        paylink_core::orders::ChangedBy::Dashboard,
    )
    .await
    {
        Ok(_) => Notice::Cancelled,
        Err(ChangeError::NotFound(_)) => Notice::CancelUnknown,
        Err(ChangeError::NotPending(..)) => Notice::CancelNotPending,
        Err(ChangeError::Raced(_)) => Notice::CancelRaced,
        Err(ChangeError::Database(e)) => return Err(e.into()),
    };
    Ok(back_to_failures(
        &Filter::default(),
        notice,
        None,
        Some(id.as_str()),
    ))
}

pub(super) async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Checked<Form<Button>>,
) -> Page {
    let replayed = operator::replay_event(&state.db, &id).await?;
    let notice = if replayed {
        Notice::Replayed
    } else {
        Notice::ReplayUnknown
    };
    Ok(back_to_failures(&Filter::default(), notice, None, None))
}
