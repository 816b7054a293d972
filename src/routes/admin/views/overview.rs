//! The overview: where the money stands, then the system in plain words.

use maud::{Markup, html};
use paylink_core::store::blast;

use super::blasts::blast_table;
use super::{card, layout};

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
