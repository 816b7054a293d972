//! The webhooks page: where paylink's own webhooks go, how each delivery fared in plain words,
//! and the forms that send them again (Resend one, Replay an endpoint since a time).

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use paylink_core::outbound::dispatch::shown_error;
use paylink_core::outbound::target::mask_url;
use paylink_core::store::outbound_delivery::{Counts, Listed, Model as Delivery, State};
use paylink_core::views::EndpointView;
use sea_orm::ActiveEnum as _;

use super::{layout, path_segment, when};

/// What the webhooks page lists.
pub struct Webhooks<'a> {
    pub endpoints: &'a [EndpointView],
    /// The newest deliveries, whatever their state.
    pub recent: &'a [Listed],
    pub failed: &'a [Listed],
    pub counts: &'a Counts,
    /// What each "Replay since…" field starts with (UTC, as `datetime-local` writes it).
    pub replay_default: &'a str,
    pub now: DateTime<Utc>,
}

pub fn webhooks(csrf: &str, page: &Webhooks<'_>, flash: Option<&str>) -> Markup {
    let counts = page.counts;
    layout(
        "Webhooks",
        csrf,
        html! {
            h1 { "Webhooks" }
            @if let Some(flash) = flash { p.flash role="status" { (flash) } }
            p.muted {
                "What paylink tells your own application. All times are UTC. Deliveries: "
                (counts.pending) " waiting, " (counts.delivered) " delivered, "
                (counts.failed) " given up."
            }
            h2 { "Endpoints (" (page.endpoints.len()) ")" }
            @if page.endpoints.is_empty() {
                p.muted { "None. Register one with POST /v1/webhook_endpoints." }
            } @else {
                p.muted {
                    "Replay sends an endpoint every event since the time you give (a time in UTC) \
                     that it takes, again, with the same webhook-id so it can skip ones it already has."
                }
                div.scroll { table id="endpoints" {
                    tr { th { "URL" } th { "events" } th { "state" } th { "created" } th { "" } }
                    @for e in page.endpoints {
                        tr data-endpoint=(e.id) {
                            td { code { (e.url) } }
                            td { @match &e.events { Some(types) => (types.join(", ")), None => "all" } }
                            td { @match e.failing_since {
                                Some(since) => span.error { "Failing since " (when(Some(since))) },
                                None => "Enabled",
                            } }
                            td.when { (when(Some(e.created_at))) }
                            td {
                                form.inline method="post" action=(format!("/admin/webhooks/{}/replay", path_segment(&e.id))) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    label { "Replay since " input type="datetime-local" name="since" step="1" value=(page.replay_default) required; " UTC" }
                                    " " button type="submit" { "Replay" }
                                }
                            }
                        }
                    }
                } }
            }
            h2 { "Failed deliveries (" (page.failed.len()) ")" }
            @if page.failed.is_empty() { p.muted { "None." } } @else {
                p.muted { "paylink stopped trying these. Resend one once its endpoint is back, or replay the endpoint." }
                div.scroll { table id="failed-deliveries" {
                    (head(false))
                    @for row in page.failed { (delivery_row(csrf, row, page.now, false)) }
                } }
            }
            h2 { "Recent deliveries (" (page.recent.len()) ")" }
            @if page.recent.is_empty() { p.muted { "None yet." } } @else {
                div.scroll { table id="recent-deliveries" {
                    (head(true))
                    @for row in page.recent { (delivery_row(csrf, row, page.now, true)) }
                } }
            }
        },
    )
}

fn head(recent: bool) -> Markup {
    html! {
        tr {
            th { "#" } th { "event" } th { "about" } th { "endpoint" } th { "status" }
            th { "tries" } th { "last answer" }
            @if recent { th { "next try" } th { "delivered" } } @else { th { "last try" } th { "" } }
        }
    }
}

fn delivery_row(csrf: &str, row: &Listed, now: DateTime<Utc>, recent: bool) -> Markup {
    let d = &row.delivery;
    html! {
        tr data-delivery=(d.id) data-state=(d.state.to_value()) {
            td { (d.id) }
            td { (row.event_type) br; span.muted { code { (row.event_id) } } }
            td { @if let Some(order) = &row.order_id {
                a href=(format!("/admin/orders/{}", path_segment(order))) { "order " (order) }
            } @else if let Some(blast) = &row.blast_id {
                a href=(format!("/admin/blasts/{}", path_segment(blast))) { "blast " (blast) }
            } @else { "–" } }
            td { code { (mask_url(&row.endpoint_url)) } }
            td.error[d.state == State::Failed] { (status_words(d, now)) }
            td { (d.attempts) }
            td { (last_answer(d)) }
            @if recent {
                td.when { @if d.state == State::Pending { (when(d.next_attempt_at)) } @else { "–" } }
                td.when { (when(d.delivered_at)) }
            } @else {
                td.when { (when(d.last_attempt_at)) }
                td {
                    form.inline method="post" action=(format!("/admin/webhooks/deliveries/{}/resend", d.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.primary type="submit" { "Resend" }
                    }
                }
            }
        }
    }
}

/// The delivery's state as an operator says it.
fn status_words(d: &Delivery, now: DateTime<Utc>) -> String {
    match d.state {
        State::Delivered => "Delivered".into(),
        State::Failed => format!(
            "Gave up after {} {}",
            d.attempts,
            if d.attempts == 1 { "try" } else { "tries" }
        ),
        State::Pending if d.lease_until.is_some_and(|until| until > now) => "Sending now".into(),
        State::Pending if d.attempts == 0 => "Waiting to be sent".into(),
        State::Pending => format!("Will retry at {}", when(d.next_attempt_at)),
    }
}

/// The endpoint's last HTTP status, or why it gave none, in the few words an operator is shown
/// (never the network's own error text: docs/security.md, "Outbound webhooks").
fn last_answer(d: &Delivery) -> String {
    match (
        d.last_status,
        shown_error(d.last_status, d.last_error.as_deref()),
    ) {
        (_, Some(words)) => words,
        (Some(status), None) => format!("HTTP {status}"),
        (None, None) => "–".into(),
    }
}
