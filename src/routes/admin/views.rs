//! The dashboard's HTML (maud): server-rendered pages with a little hand-written CSS and no
//! script. Every form that changes something carries the CSRF token.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use paylink_core::domain::PageRequest;
use paylink_core::store::{blast, order, payment, stripe_event};
use sea_orm::ActiveEnum as _;

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfd6e4;text-decoration:none}header a:hover{color:#fff}header strong{margin-right:1rem}
header form{margin-left:auto}main{padding:1.2rem;max-width:72rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.5rem}.muted{color:#6b7385;font-size:.85rem}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e8ee;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f4}.bar{display:flex;height:.8rem;width:14rem;background:#e5e8ee;border-radius:3px;overflow:hidden}
.bar span{display:block}.minted{background:#3b82f6}.failed{background:#dc2626}.paid{background:#16a34a}
button{font:inherit;padding:.2rem .6rem;border:1px solid #9aa3b5;border-radius:4px;background:#fff;cursor:pointer}
button.primary{background:#1d4ed8;color:#fff;border-color:#1d4ed8}form.inline{display:inline}
input{font:inherit;padding:.2rem .4rem}.error{color:#b91c1c}.flash{background:#ecfdf5;border:1px solid #a7f3d0;padding:.5rem .8rem}
";

fn layout(title: &str, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · paylink" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "paylink" }
                    a href="/admin" { "Overview" }
                    a href="/admin/blasts" { "Blasts" }
                    a href="/admin/failures" { "Failures" }
                    form method="post" action="/admin/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login form (also the body of every 401 under `/admin`).
pub fn login(error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in · paylink" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "paylink operator login" }
                    @if let Some(error) = error { p.error { (error) } }
                    form method="post" action="/admin/login" {
                        label { "Admin token " input type="password" name="token" autocomplete="current-password" autofocus; }
                        " "
                        button.primary type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// A page that says what was wrong with the request (a form or a query the dashboard cannot
/// take); the message is escaped like everything maud renders.
pub fn problem(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · paylink" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (title) }
                    p.error { (message) }
                    p { a href="/admin" { "Back to the dashboard" } }
                }
            }
        }
    }
}

/// Queue depth as the overview shows it.
pub struct QueueDepth {
    /// Jobs due per queue, every job type in turn.
    pub due: Vec<(&'static str, u64)>,
    /// Orders waiting in the database for room in the queue.
    pub backlog: u64,
}

pub struct Overview {
    pub counts: blast::Counts,
    pub stripe_per_minute: Vec<i64>,
    pub rate_limited_last_hour: i64,
    pub queue: Option<QueueDepth>,
    pub failed_orders_last_hour: u64,
    pub failed_events_last_hour: u64,
    pub minted_per_minute: Vec<i64>,
    pub blasts: Vec<(blast::Model, blast::Counts)>,
}

pub fn overview(csrf: &str, o: &Overview) -> Markup {
    let c = &o.counts;
    let this_minute = |v: &[i64]| v.last().copied().unwrap_or(0);
    layout(
        "Overview",
        csrf,
        html! {
            h1 { "Overview" }
            h2 { "Orders" }
            div.cards {
                (card("minting", c.minting, "links being made"))
                (card("active", c.active, "links taking payment"))
                (card("failed", c.failed, "need an operator"))
                (card("deactivated", c.deactivated, "links switched off"))
                (card("paid", c.paid, "orders paid"))
                (card("cancelled", c.cancelled, "orders cancelled"))
            }
            h2 { "Last hour" }
            div.cards {
                div.card id="stripe-rate" {
                    span.muted { "Stripe requests this minute" } b { (this_minute(&o.stripe_per_minute)) }
                    (sparkline(&o.stripe_per_minute))
                }
                (card("429s", o.rate_limited_last_hour, "rate-limited by Stripe"))
                div.card id="failures-hour" {
                    span.muted { "failures" }
                    b { a href="/admin/failures" { (o.failed_orders_last_hour + o.failed_events_last_hour) } }
                    span.muted { (o.failed_orders_last_hour) " orders, " (o.failed_events_last_hour) " events" }
                }
                div.card id="throughput" {
                    span.muted { "links minted this minute" }
                    b { (this_minute(&o.minted_per_minute)) }
                    (sparkline(&o.minted_per_minute))
                }
            }
            h2 { "Queue" }
            @match &o.queue {
                Some(q) => div.cards {
                    @for (queue, due) in &q.due {
                        (card(queue, *due, "jobs due"))
                    }
                    (card("backlog", q.backlog, "orders waiting in the database"))
                },
                None => p.error { "The queue does not answer; work waits in the database." },
            }
            h2 { "Recent blasts" }
            (blast_table(&o.blasts))
        },
    )
}

fn card(label: &str, value: impl std::fmt::Display, note: &str) -> Markup {
    html! { div.card data-label=(label) { span.muted { (label) } b { (value) } span.muted { (note) } } }
}

/// A throughput line over the values, oldest first, as inline SVG.
pub fn sparkline(values: &[i64]) -> Markup {
    let (width, height) = (240.0_f64, 36.0_f64);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - 2.0 - (*v as f64 / max) * (height - 4.0)
            )
        })
        .collect();
    html! {
        svg.spark width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) role="img" aria-label="per minute, last hour" {
            polyline fill="none" stroke="#3b82f6" stroke-width="1.5" points=(points.join(" ")) {}
        }
    }
}

fn blast_table(blasts: &[(blast::Model, blast::Counts)]) -> Markup {
    html! {
        @if blasts.is_empty() { p.muted { "No blasts yet." } } @else {
            table {
                tr { th { "blast" } th { "size" } th { "progress (minted / failed / paid)" } th { "" } }
                @for (b, c) in blasts {
                    @let minted = c.active + c.deactivated;
                    tr {
                        td { a href=(format!("/admin/blasts/{}", path_segment(&b.id))) { (b.name) } br; span.muted { (b.created_at.format("%Y-%m-%d %H:%M UTC")) } }
                        td { (b.size) }
                        td {
                            (progress(b.size, minted, c.failed, c.paid))
                            span.muted { (minted) " minted · " (c.failed) " failed · " (c.paid) " paid of " (b.size) }
                        }
                        td { a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "failures" } }
                    }
                }
            }
        }
    }
}

fn progress(size: i32, minted: i64, failed: i64, paid: i64) -> Markup {
    let pct = |n: i64| (n as f64 * 100.0 / f64::from(size.max(1))).clamp(0.0, 100.0);
    // Paid orders were minted first: show paid inside minted.
    html! {
        div.bar title=(format!("{minted} minted, {failed} failed, {paid} paid of {size}")) {
            span.paid style=(format!("width:{:.1}%", pct(paid))) {}
            span.minted style=(format!("width:{:.1}%", pct(minted - paid))) {}
            span.failed style=(format!("width:{:.1}%", pct(failed))) {}
        }
    }
}

pub fn blasts(csrf: &str, blasts: &[(blast::Model, blast::Counts)]) -> Markup {
    layout(
        "Blasts",
        csrf,
        html! { h1 { "Blasts" } (blast_table(blasts)) },
    )
}

/// One page of a blast's orders.
pub struct OrdersPage<'a> {
    pub orders: &'a [order::Model],
    pub page: PageRequest,
    /// Whether another page follows.
    pub has_more: bool,
}

pub fn blast_page(
    csrf: &str,
    b: &blast::Model,
    counts: &blast::Counts,
    orders: OrdersPage<'_>,
) -> Markup {
    let OrdersPage {
        orders,
        page,
        has_more,
    } = orders;
    let here = format!("/admin/blasts/{}", path_segment(&b.id));
    let first_row = page.offset() + 1;
    layout(
        &b.name,
        csrf,
        html! {
            h1 { "Blast " (b.name) }
            (progress(b.size, counts.active + counts.deactivated, counts.failed, counts.paid))
            p.muted { (b.size) " orders · " a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "its failures" } }
            (order_table(orders))
            p.muted id="pager" {
                @if orders.is_empty() { "No orders on page " (page.number()) ". " }
                @else { "Orders " (first_row) "–" (page.offset() + orders.len() as u64) ". " }
                @if page.number() > 1 { a href=(format!("{here}?page={}", page.number() - 1)) { "Previous page" } " " }
                @if has_more { a href=(format!("{here}?page={}", page.number() + 1)) { "Next page" } " " }
                "Every order is in GET /v1/blasts/" (b.id) "/orders."
            }
        },
    )
}

fn order_table(orders: &[order::Model]) -> Markup {
    html! {
        table {
            tr { th { "order" } th { "payer" } th { "amount" } th { "status" } th { "link" } }
            @for o in orders {
                tr {
                    td { a href=(format!("/admin/orders/{}", path_segment(&o.id))) { (o.external_ref) } }
                    td { (o.payer_name) br; span.muted { (o.payer_email) } }
                    td { (money(o.amount_cents, &o.currency)) }
                    td { (o.status.to_value()) }
                    td { (o.link_state.to_value()) }
                }
            }
        }
    }
}

fn money(cents: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        cents / 100,
        cents % 100,
        currency.to_uppercase()
    )
}

/// What the failures page is filtered by.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub blast: String,
    #[serde(default)]
    pub error: String,
}

/// What the failures page lists.
pub struct Failures<'a> {
    pub orders: &'a [order::Model],
    pub events: &'a [stripe_event::Model],
    /// Payments recorded with an issue (wrong amount, after a cancel, a second payment).
    pub payments: &'a [payment::Model],
}

pub fn failures(csrf: &str, filter: &Filter, found: Failures<'_>, flash: Option<&str>) -> Markup {
    let Failures {
        orders,
        events,
        payments,
    } = found;
    layout(
        "Failures",
        csrf,
        html! {
            h1 { "Failures" }
            @if let Some(flash) = flash { p.flash role="status" { (flash) } }
            form method="get" action="/admin/failures" {
                label { "blast " input name="blast" value=(filter.blast) placeholder="bl_…"; }
                " "
                label { "error contains " input name="error" value=(filter.error) placeholder="HTTP 500"; }
                " " button type="submit" { "Filter" }
            }
            h2 { "Orders whose link failed (" (orders.len()) ")" }
            @if orders.is_empty() { p.muted { "None." } } @else {
                form method="post" action="/admin/failures/retry" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="blast" value=(filter.blast);
                    input type="hidden" name="error" value=(filter.error);
                    button.primary type="submit" id="retry-all" { "Retry all matching" }
                }
                table id="failed-orders" {
                    tr { th { "order" } th { "amount" } th { "error" } th { "attempts" } th { "last attempt" } th { "" } }
                    @for o in orders {
                        tr data-order=(o.id) {
                            td { a href=(format!("/admin/orders/{}", path_segment(&o.id))) { (o.external_ref) } br; span.muted { (o.payer_email) } }
                            td { (money(o.amount_cents, &o.currency)) }
                            td.error { (o.last_error.as_deref().unwrap_or("")) }
                            td { (o.attempts) }
                            td { (when(o.last_attempt_at)) }
                            td {
                                form.inline method="post" action=(format!("/admin/orders/{}/retry", path_segment(&o.id))) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.primary type="submit" { "Retry" }
                                }
                                " "
                                form.inline method="post" action=(format!("/admin/orders/{}/cancel", path_segment(&o.id))) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { "Cancel" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Payments needing attention (" (payments.len()) ")" }
            @if payments.is_empty() { p.muted { "None." } } @else {
                p.muted { "Money Stripe took that does not match its order. paylink recorded it and changed nothing else: refund or settle it with the payer in Stripe." }
                table id="payment-issues" {
                    tr { th { "order" } th { "issue" } th { "paid" } th { "checkout session" } th { "learned via" } th { "recorded" } }
                    @for p in payments {
                        tr data-order=(p.order_id) {
                            td { a href=(format!("/admin/orders/{}", path_segment(&p.order_id))) { (p.order_id) } }
                            td.error { (p.issue.map(|i| i.as_str()).unwrap_or("")) }
                            td { @match (p.amount_cents, &p.currency) {
                                (Some(amount), Some(currency)) => (money(amount, currency)),
                                _ => "–",
                            } }
                            td { code { (p.checkout_session_id) } }
                            td { (p.learned_via.to_value()) }
                            td { (p.recorded_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                        }
                    }
                }
            }
            h2 { "Stripe events that failed (" (events.len()) ")" }
            @if events.is_empty() { p.muted { "None." } } @else {
                table id="failed-events" {
                    tr { th { "event" } th { "type" } th { "received" } th { "outcome / error" } th { "" } }
                    @for e in events {
                        tr {
                            td { code { (e.id) } }
                            td { (e.event_type) }
                            td { (e.received_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                            td.error { (e.outcome.map(|o| o.to_value()).unwrap_or_default()) " " (e.error.as_deref().unwrap_or("")) }
                            td {
                                form.inline method="post" action=(format!("/admin/events/{}/replay", path_segment(&e.id))) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { "Replay" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "–".into())
}

/// One order's page: its timeline with Stripe's ids, linked to the Stripe dashboard when the
/// key is live (`dashboard` is its base URL then).
pub fn order_page(
    csrf: &str,
    o: &order::Model,
    product: Option<&str>,
    dashboard: Option<&str>,
) -> Markup {
    let stripe = |path: &str, id: &str| -> Markup {
        match dashboard {
            Some(base) => {
                html! { a href=(format!("{base}/{path}/{}", path_segment(id))) { code { (id) } } }
            }
            None => html! { code { (id) } },
        }
    };
    let link_id = o.stripe_payment_link_id.as_deref();
    layout(
        &o.external_ref,
        csrf,
        html! {
            h1 { "Order " (o.external_ref) }
            p { (o.payer_name) " <" (o.payer_email) "> · " (money(o.amount_cents, &o.currency))
                " · " (product.unwrap_or("unknown product")) " · status " b { (o.status.to_value()) } ", link " b { (o.link_state.to_value()) } }
            @if let Some(e) = &o.last_error { p.error { (e) } }
            table id="timeline" {
                tr { th { "when" } th { "what" } th { "Stripe" } }
                tr { td { (when(Some(o.created_at))) } td { "created" } td { code { (o.id) } } }
                @if let Some(at) = o.minted_at {
                    tr { td { (when(Some(at))) } td { "minted (generation " (o.link_generation) ", " (o.attempts) " Stripe requests)" }
                         td { @if let Some(id) = link_id { (stripe("payment-links", id)) } } }
                }
                @if o.link_state == order::LinkState::Failed {
                    tr { td { (when(o.last_attempt_at)) } td { "failed after " (o.attempts) " Stripe requests" } td {} }
                }
                @if let Some(at) = o.first_clicked_at {
                    tr { td { (when(Some(at))) } td { "payer opened the pay URL" } td {} }
                }
                @if let Some(at) = o.paid_at {
                    tr { td { (when(Some(at))) } td { "paid" }
                         td {
                            @if let Some(pi) = &o.stripe_payment_intent_id { (stripe("payments", pi)) " " }
                            @if let Some(cs) = &o.stripe_checkout_session_id { span.muted { (cs) } }
                         } }
                }
                @if let Some(at) = o.deactivated_at {
                    tr { td { (when(Some(at))) } td { "link switched off" } td { @if let Some(id) = link_id { (stripe("payment-links", id)) } } }
                }
                @if let Some(at) = o.cancelled_at {
                    tr { td { (when(Some(at))) } td { "cancelled" } td {} }
                }
            }
            @if o.status == order::Status::Pending {
                p {
                    @if o.link_state == order::LinkState::Failed {
                        form.inline method="post" action=(format!("/admin/orders/{}/retry", path_segment(&o.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.primary type="submit" { "Retry" }
                        }
                        " "
                    }
                    form.inline method="post" action=(format!("/admin/orders/{}/cancel", path_segment(&o.id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Cancel order" }
                    }
                }
            }
        },
    )
}

/// `value` as one path segment of a URL: every byte but ASCII letters, digits and `*-._` is
/// percent-encoded, so an id holding `/`, `?`, `#`, `%` or a space stays one segment and
/// reaches the route whole (axum decodes it). `byte_serialize` writes a space as `+`, which
/// means a space only in a query string; in a path it is `%20` (a `+` in the input is `%2B`).
pub fn path_segment(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `name=value` for a query string, both encoded.
pub fn query_pair(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_one_path_segment_whatever_it_holds() {
        for (id, segment) in [
            ("ord_0a1b", "ord_0a1b"),
            ("evt_a/b", "evt_a%2Fb"),
            ("a?b#c", "a%3Fb%23c"),
            ("two words", "two%20words"),
            ("1+1=2", "1%2B1%3D2"),
            ("100%", "100%25"),
            ("../admin", "..%2Fadmin"),
            ("é", "%C3%A9"),
        ] {
            assert_eq!(path_segment(id), segment, "{id:?}");
        }
    }

    #[test]
    fn a_query_value_is_encoded() {
        assert_eq!(
            query_pair("blast", "a&notice=x#y"),
            "blast=a%26notice%3Dx%23y"
        );
    }
}
