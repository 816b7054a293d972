//! The dashboard's front pages: the overview (money, Stripe's pace, the queue, failures, the
//! setup's banners), the list of blasts and a blast's own page.

use axum::extract::{Path, RawQuery, State};
use chrono::Utc;
use paylink_core::jobs;
use paylink_core::store::{blast, dashboard, email, money, order, stripe_minute};

use super::page::{Page, html, not_found, page_of};
use super::session::Csrf;
use super::views::{self, Overview, QueueDepth};
use crate::routes::state::AppState;

pub(super) async fn overview(State(state): State<AppState>, csrf: Csrf) -> Page {
    let db = &state.db;
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let stripe = stripe_minute::since(db, hour_ago).await?;
    let (failed_orders, failed_events) = dashboard::failures_since(db, hour_ago).await?;
    let minted = dashboard::minted_per_minute(db, hour_ago).await?;
    let queue = queue_depth(&state).await;
    let queue_backlog = queue.as_ref().map(|q| q.backlog);
    let overview = Overview {
        money: money::standing(db, None).await?,
        stripe_per_minute: per_minute(stripe.iter().map(|m| (m.minute, m.requests))),
        rate_limited_last_hour: stripe.iter().map(|m| m.rate_limited).sum(),
        queue,
        failed_orders_last_hour: failed_orders,
        failed_events_last_hour: failed_events,
        minted_per_minute: per_minute(minted.into_iter()),
        blasts: recent_blasts(&state, 10).await?,
        setup: setup(&state, queue_backlog).await?,
    };
    Ok(html(views::overview(csrf.token(), &overview)))
}

/// What the overview's banners say is wrong with the setup. `backlog` is the orders waiting
/// for a job as the overview's queue figures already counted them (`None` when those could
/// not be read).
async fn setup(state: &AppState, backlog: Option<u64>) -> Result<views::Setup, sea_orm::DbErr> {
    let key_refusal = paylink_core::stripe_key::refusal(&state.db).await?;
    let orders_waiting = match (&key_refusal, backlog) {
        (None, _) => 0,
        (Some(_), Some(counted)) => counted,
        (Some(_), None) => dashboard::backlog(&state.db).await?,
    };
    Ok(views::Setup {
        key_refusal,
        orders_waiting,
        webhook_secret_missing: state.webhooks.secrets.is_empty(),
    })
}

/// Sixty one-minute buckets ending with the current minute, from (minute, count) pairs.
fn per_minute(values: impl Iterator<Item = (chrono::DateTime<Utc>, i64)>) -> Vec<i64> {
    let now = stripe_minute::minute_of(Utc::now());
    let mut buckets = vec![0; 60];
    for (minute, n) in values {
        let ago = (now - stripe_minute::minute_of(minute)).num_minutes();
        if (0..60).contains(&ago) {
            buckets[59 - ago as usize] += n;
        }
    }
    buckets
}

/// Jobs due per queue and the database backlog; `None` when the queue does not answer.
async fn queue_depth(state: &AppState) -> Option<QueueDepth> {
    let mut due = Vec::new();
    for (queue, depth) in jobs::queue_depths(&state.queue).await {
        due.push((queue, depth.ok()?));
    }
    Some(QueueDepth {
        due,
        backlog: dashboard::backlog(&state.db).await.ok()?,
    })
}

async fn recent_blasts(
    state: &AppState,
    limit: u64,
) -> anyhow::Result<Vec<(blast::Model, blast::Counts)>> {
    let mut rows = Vec::new();
    for b in blast::recent(&state.db, limit).await? {
        let counts = blast::counts(&state.db, &b.id).await?;
        rows.push((b, counts));
    }
    Ok(rows)
}

pub(super) async fn blasts(State(state): State<AppState>, csrf: Csrf) -> Page {
    let rows = recent_blasts(&state, 100).await?;
    Ok(html(views::blasts(csrf.token(), &rows)))
}

/// Orders on one page of a blast's page.
const ORDERS_PER_PAGE: u64 = 200;

pub(super) async fn blast_page(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let page = match page_of(query.as_deref(), ORDERS_PER_PAGE) {
        Ok(page) => page,
        Err(refusal) => return Ok(refusal),
    };
    let Some(found) = blast::find(&state.db, &id).await? else {
        return Ok(not_found("blast"));
    };
    let counts = blast::counts(&state.db, &id).await?;
    let mails = email::counts_for_blast(&state.db, &id).await?;
    let standing = money::standing(&state.db, Some(&id)).await?;
    let (orders, has_more) =
        page.split(order::list_for_blast(&state.db, &id, page.offset(), page.fetch()).await?);
    Ok(html(views::blast_page(
        csrf.token(),
        &found,
        &counts,
        &mails,
        &standing,
        views::OrdersPage {
            orders: &orders,
            page,
            has_more,
        },
        &|o: &order::Model| state.jobs.pay_url(&o.pay_token),
    )))
}
