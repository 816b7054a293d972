//! `/admin/webhooks`: where paylink's own webhooks go and how their deliveries fare; Resend one
//! delivery, or replay what an endpoint missed since a time. Endpoints reach the page without
//! their secrets.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use paylink_core::domain::whole_number;
use paylink_core::outbound::endpoints::{self, EndpointError};
use paylink_core::store::{outbound_delivery, webhook_endpoint};
use paylink_core::views::EndpointView;
use serde::Deserialize;

use super::csrf::{Button, Checked, Form};
use super::form::AdminQuery;
use super::notice::Notice;
use super::page::{Page, html};
use super::session::Csrf;
use super::views;
use crate::routes::state::AppState;

/// Deliveries in "Recent deliveries".
const RECENT: u64 = 50;
/// Deliveries in "Failed deliveries".
const FAILED: u64 = 200;

#[derive(Deserialize)]
pub(super) struct WebhooksQuery {
    /// A [`Notice`]'s code; anything else shows nothing.
    #[serde(default)]
    notice: String,
    count: Option<String>,
    /// The endpoint the notice is about: shown by its stored URL.
    endpoint: Option<String>,
    /// The delivery the notice is about: shown by its number.
    delivery: Option<String>,
    /// Where a replay cut at its maximum ends: shown only when it reads as a time.
    until: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    csrf: Csrf,
    AdminQuery(query): AdminQuery<WebhooksQuery>,
) -> Page {
    let db = &state.db;
    let endpoints: Vec<EndpointView> = webhook_endpoint::all(db)
        .await?
        .into_iter()
        .map(EndpointView::from)
        .collect();
    let recent = outbound_delivery::recent_listed(db, None, RECENT).await?;
    let failed =
        outbound_delivery::recent_listed(db, Some(outbound_delivery::State::Failed), FAILED)
            .await?;
    let counts = outbound_delivery::count_by_state(db).await?;
    let notice = Notice::from_code(&query.notice).map(|n| {
        let message = n.message(query.count.as_deref());
        // What the action was about, named from the database (never from the link's text).
        let endpoint = query
            .endpoint
            .as_deref()
            .and_then(|id| endpoints.iter().find(|e| e.id == id));
        let delivery = query
            .delivery
            .as_deref()
            .and_then(|d| whole_number("delivery", d).ok());
        let cut = query
            .until
            .as_deref()
            .and_then(parse_since)
            .filter(|_| n == Notice::EndpointReplayed)
            .map(|until| {
                format!(
                    " That is the most one replay takes: replay again from {} for the rest.",
                    until.format("%Y-%m-%d %H:%M:%S%.6f UTC")
                )
            })
            .unwrap_or_default();
        match (endpoint, delivery) {
            (Some(e), _) => format!("Endpoint {}: {message}{cut}", e.url),
            (None, Some(d)) => format!("Delivery #{d}: {message}"),
            (None, None) => message,
        }
    });
    let now = Utc::now();
    let replay_default = (now - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    Ok(html(views::webhooks(
        csrf.token(),
        &views::Webhooks {
            endpoints: &endpoints,
            recent: &recent,
            failed: &failed,
            counts: &counts,
            replay_default: &replay_default,
            now,
        },
        notice.as_deref(),
    )))
}

/// Back to the webhooks page with a notice, and what it is about.
fn back(
    notice: Notice,
    count: Option<usize>,
    endpoint: Option<&str>,
    delivery: Option<i32>,
) -> Response {
    back_with(notice, count, endpoint, delivery, None)
}

fn back_with(
    notice: Notice,
    count: Option<usize>,
    endpoint: Option<&str>,
    delivery: Option<i32>,
    until: Option<DateTime<Utc>>,
) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("notice", notice.code());
    if let Some(count) = count {
        query.append_pair("count", &count.to_string());
    }
    if let Some(id) = endpoint {
        query.append_pair("endpoint", id);
    }
    if let Some(id) = delivery {
        query.append_pair("delivery", &id.to_string());
    }
    if let Some(until) = until {
        query.append_pair(
            "until",
            &until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
    }
    Redirect::to(&format!("/admin/webhooks?{}", query.finish())).into_response()
}

/// Resend: the delivery pending again from its first try.
pub(super) async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Checked<Form<Button>>,
) -> Page {
    let Ok(delivery_id) = id.parse::<i32>() else {
        return Ok(back(Notice::DeliveryUnknown, None, None, None));
    };
    let notice = match endpoints::resend(&state.db, delivery_id).await {
        Ok(()) => Notice::DeliveryResent,
        Err(EndpointError::NoDelivery(_)) => Notice::DeliveryUnknown,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        delivery_id,
        notice = notice.code(),
        "operator resent a webhook delivery"
    );
    Ok(back(notice, None, None, Some(delivery_id)))
}

#[derive(Deserialize)]
pub(super) struct ReplayForm {
    /// As a `datetime-local` input writes it, read as UTC.
    #[serde(default)]
    since: String,
}

/// "Replay since…": every event since the time that the endpoint takes (at most
/// `endpoints::MAX_REPLAY`), due to it again, in the background.
pub(super) async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked {
        form: Form(form), ..
    }: Checked<Form<ReplayForm>>,
) -> Page {
    let Some(since) = parse_since(&form.since) else {
        return Ok(back(Notice::ReplayBadTime, None, Some(&id), None));
    };
    let (notice, count, cut_at) = match endpoints::replay(&state.db, &id, since, None).await {
        Ok((replay, next_since)) => (
            Notice::EndpointReplayed,
            usize::try_from(replay.total).ok(),
            next_since.map(|_| replay.until),
        ),
        Err(EndpointError::NotFound(_)) => (Notice::EndpointUnknown, None, None),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(endpoint_id = %id, %since, queued = ?count, "operator replayed a webhook endpoint");
    Ok(back_with(notice, count, Some(&id), None, cut_at))
}

/// A `datetime-local` value (`2026-12-01T09:30`, seconds optional) as UTC, or an RFC 3339
/// time; `None` for anything else, or a year outside 1970–9999.
fn parse_since(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let parsed = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
    .map(|t| t.and_utc())
    .or_else(|| {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })?;
    (1970..=9999).contains(&parsed.year()).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn a_datetime_local_value_is_read_as_utc_and_nothing_else_is_read() {
        let at = |s: &str| parse_since(s).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2026-12-01T09:30"),
            Some("2026-12-01T09:30:00+00:00".into())
        );
        assert_eq!(
            at(" 2026-12-01T09:30:15 "),
            Some("2026-12-01T09:30:15+00:00".into())
        );
        assert_eq!(
            at("2026-12-01T09:30:15.5"),
            Some("2026-12-01T09:30:15.500+00:00".into())
        );
        assert_eq!(
            at("2026-12-01T10:30:00+01:00"),
            Some("2026-12-01T09:30:00+00:00".into())
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00",
            "2026-12-01",
            "0001-01-01T00:00",
            "+99999-01-01T00:00",
            "2026-12-01T09:30<script>",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }
}
