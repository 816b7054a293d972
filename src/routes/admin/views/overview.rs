//! The overview: where the money stands, then the system in plain words.

use maud::{Markup, html};
use paylink_core::store::{blast, money};

use super::blasts::blast_table;
use super::{card, layout, standing};

/// Queue depth as the overview shows it.
pub struct QueueDepth {
    /// Jobs due per queue, every job type in turn.
    pub due: Vec<(&'static str, u64)>,
    /// Orders waiting in the database for room in the queue.
    pub backlog: u64,
}

pub struct Overview {
    pub money: money::Money,
    pub stripe_per_minute: Vec<i64>,
    pub rate_limited_last_hour: i64,
    pub queue: Option<QueueDepth>,
    pub failed_orders_last_hour: u64,
    pub failed_events_last_hour: u64,
    pub minted_per_minute: Vec<i64>,
    pub blasts: Vec<(blast::Model, blast::Counts)>,
    pub setup: super::Setup,
}

/// Money first (what came in, what is outstanding, what needs someone), per currency, each
/// figure a link to the orders behind it; then the engine, in plain words.
pub fn overview(csrf: &str, o: &Overview) -> Markup {
    let this_minute = |v: &[i64]| v.last().copied().unwrap_or(0);
    layout(
        "Overview",
        csrf,
        html! {
            h1 { "Overview" }
            (super::setup::banners(&o.setup))
            (standing::standing(&o.money, None))
            h2 { "Recent blasts" }
            p { a href="/admin/blasts/new" { "New blast from a CSV file" } }
            (blast_table(&o.blasts))
            h2 { "System" }
            p.muted { "How paylink itself is doing: making pay links at Stripe and keeping up with payments." }
            div.cards {
                div.card id="stripe-rate" {
                    span.muted { "requests to Stripe this minute" } b { (this_minute(&o.stripe_per_minute)) }
                    (sparkline(&o.stripe_per_minute))
                }
                div.card id="throughput" {
                    span.muted { "pay links made this minute" }
                    b { (this_minute(&o.minted_per_minute)) }
                    (sparkline(&o.minted_per_minute))
                }
                (card("Stripe asked us to slow down", o.rate_limited_last_hour, "times in the last hour (paylink waits and tries again)"))
                div.card id="failures-hour" {
                    span.muted { "problems in the last hour" }
                    b { a href="/admin/failures" { (o.failed_orders_last_hour + o.failed_events_last_hour) } }
                    span.muted {
                        (o.failed_orders_last_hour) " link" @if o.failed_orders_last_hour != 1 { "s" } " not made, "
                        (o.failed_events_last_hour) " Stripe message" @if o.failed_events_last_hour != 1 { "s" } " not understood"
                    }
                }
                @match &o.queue {
                    Some(q) => {
                        (card("work waiting", q.due.iter().map(|(_, n)| n).sum::<u64>(), "tasks ready to run now"))
                        (card("links still to make", q.backlog, "waiting their turn (Stripe's rate limit)"))
                    },
                    None => div.card { span.muted { "work queue" } b.error { "not answering" } span.muted { "work waits safely in the database" } },
                }
            }
        },
    )
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
