//! `/admin/orders`: find any order (search, filters, pages) and download what is shown as the
//! same CSV a blast exports (formula-safe, see `blast_export.rs`).

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use paylink_core::store::order_search::{self, OrderQuery, Standing};

use super::page::{Page, html, page_of, param, unprocessable};
use super::session::Csrf;
use super::views;
use crate::blast_export::{ResultRow, name_products, to_csv};
use crate::routes::state::AppState;

const PER_PAGE: u64 = 50;

/// The most orders one CSV download holds.
const EXPORT_MAX: u64 = 100_000;

/// The search in the query string; an unknown `state` is refused, naming it.
fn order_query(query: Option<&str>) -> Result<OrderQuery, String> {
    let state = param(query, "state").unwrap_or_default();
    let standing = match state.as_str() {
        "" => Standing::All,
        name => Standing::parse(name).ok_or_else(|| {
            format!(
                "state: {name:?} is not one of {}",
                Standing::ALL.map(Standing::as_str).join(", ")
            )
        })?,
    };
    let non_empty = |name: &str| param(query, name).filter(|v| !v.trim().is_empty());
    Ok(OrderQuery {
        text: param(query, "q").unwrap_or_default(),
        standing,
        blast_id: non_empty("blast"),
        currency: non_empty("currency").map(|c| c.trim().to_lowercase()),
    })
}

pub(super) async fn search(
    State(state): State<AppState>,
    csrf: Csrf,
    RawQuery(query): RawQuery,
) -> Page {
    let query = query.as_deref();
    let search = match order_query(query) {
        Ok(search) => search,
        Err(message) => return Ok(unprocessable(&message)),
    };
    let page = match page_of(query, PER_PAGE) {
        Ok(page) => page,
        Err(refusal) => return Ok(refusal),
    };
    let (orders, has_more) =
        order_search::search(&state.db, &search, page.offset(), page.size()).await?;
    let pay_url = |o: &paylink_core::store::order::Model| state.jobs.pay_url(&o.pay_token);
    Ok(html(views::orders_page(
        csrf.token(),
        &views::OrdersView {
            query: &search,
            orders: &orders,
            page,
            has_more,
        },
        &pay_url,
    )))
}

/// Every order the search finds (up to [`EXPORT_MAX`]), as CSV.
pub(super) async fn export(State(state): State<AppState>, RawQuery(query): RawQuery) -> Page {
    let search = match order_query(query.as_deref()) {
        Ok(search) => search,
        Err(message) => return Ok(unprocessable(&message)),
    };
    const CHUNK: u64 = 1000;
    let mut rows = Vec::new();
    loop {
        let (found, more) =
            order_search::search(&state.db, &search, rows.len() as u64, CHUNK).await?;
        rows.extend(found.into_iter().map(|o| {
            let url = state.jobs.pay_url(&o.pay_token);
            ResultRow::new(o, url)
        }));
        if !more || rows.len() as u64 >= EXPORT_MAX {
            break;
        }
    }
    name_products(&state.db, &mut rows).await?;
    let body = to_csv(&rows)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"orders.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
