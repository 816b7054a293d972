//! The blasts: a table of them, and one blast's page.

use maud::{Markup, html};
use paylink_core::domain::PageRequest;
use paylink_core::store::{blast, money, order};

use super::orders::PayUrl;
use super::{layout, order_table, path_segment, query_pair, standing};

pub(super) fn blast_table(blasts: &[(blast::Model, blast::Counts)]) -> Markup {
    html! {
        @if blasts.is_empty() { p.muted { "No blasts yet." } } @else {
            div.scroll { table {
                tr { th { "blast" } th { "size" } th { "progress (links ready / not made / paid)" } th { "" } }
                @for (b, c) in blasts {
                    @let ready = c.active + c.deactivated;
                    tr {
                        td { a href=(format!("/admin/blasts/{}", path_segment(&b.id))) { (b.name) } br; span.muted { (b.created_at.format("%Y-%m-%d %H:%M UTC")) } }
                        td { (b.size) }
                        td {
                            (progress(b.size, ready, c.failed, c.paid))
                            span.muted { (ready) " links ready · " (c.failed) " not made · " (c.paid) " paid of " (b.size) }
                        }
                        td { a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "failures" } }
                    }
                }
            } }
        }
    }
}

fn progress(size: i32, ready: i64, failed: i64, paid: i64) -> Markup {
    let pct = |n: i64| (n as f64 * 100.0 / f64::from(size.max(1))).clamp(0.0, 100.0);
    // A paid order had its link first: show paid inside the links ready.
    html! {
        div.bar title=(format!("{ready} links ready, {failed} not made, {paid} paid of {size}")) {
            span.paid style=(format!("width:{:.1}%", pct(paid))) {}
            span.ready style=(format!("width:{:.1}%", pct(ready - paid))) {}
            span.failed style=(format!("width:{:.1}%", pct(failed))) {}
        }
    }
}

pub fn blasts(csrf: &str, blasts: &[(blast::Model, blast::Counts)]) -> Markup {
    layout(
        "Blasts",
        csrf,
        html! {
            h1 { "Blasts" }
            p { a.button.primary href="/admin/blasts/new" { "New blast from a CSV file" } }
            (blast_table(blasts))
        },
    )
}

/// One page of a blast's orders.
pub struct OrdersPage<'a> {
    pub orders: &'a [order::Model],
    pub page: PageRequest,
    /// Whether another page follows.
    pub has_more: bool,
}

/// One blast: where its money stands (as on the overview), its progress and its orders.
pub fn blast_page(
    csrf: &str,
    b: &blast::Model,
    counts: &blast::Counts,
    standing: &money::Money,
    orders: OrdersPage<'_>,
    pay_url: PayUrl<'_>,
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
            p.muted { (b.size) " orders · "
                a href=(format!("/admin/orders?{}", query_pair("blast", &b.id))) { "search them" } " · "
                a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "its failures" } }
            p { a.button.primary id="links-file" href=(format!("{here}/links.csv")) { "Download links file" }
                span.muted { " every order with its pay URL, as CSV" } }
            (standing::standing(standing, Some(&b.id)))
            h2 { "Orders" }
            (order_table(orders, pay_url))
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
