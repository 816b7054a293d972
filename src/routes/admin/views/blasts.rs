//! The blasts: a table of them, and one blast's page.

use maud::{Markup, html};
use paylink_core::domain::PageRequest;
use paylink_core::store::{blast, email, money, order};

use super::orders::PayUrl;
use super::{layout, order_table, path_segment, query_pair, standing};

pub(super) fn blast_table(blasts: &[(blast::Model, blast::Counts)]) -> Markup {
    html! {
        @if blasts.is_empty() { p.muted { "No blasts yet." } } @else {
            div.scroll { table {
                tr { th { "blast" } th { "size" } th { "progress" } th { "" } }
                @for (b, c) in blasts {
                    tr {
                        td { a href=(format!("/admin/blasts/{}", path_segment(&b.id))) { (b.name) } br; span.muted { (b.created_at.format("%Y-%m-%d %H:%M UTC")) } }
                        td { (b.size) }
                        td { (progress(b.size, &c.progress)) }
                        td { a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "failures" } }
                    }
                }
            } }
        }
    }
}

/// The bar and the counts in words: each order in one bucket, so the numbers add up to the
/// blast's size (`blast::Progress`).
fn progress(size: i32, p: &blast::Progress) -> Markup {
    let pct = |n: i64| (n as f64 * 100.0 / f64::from(size.max(1))).clamp(0.0, 100.0);
    let words = format!(
        "{} links ready to pay · {} paid · {} cancelled · {} not made ({} failed, {} not yet) of {size}",
        p.ready,
        p.paid,
        p.cancelled,
        p.failed + p.not_yet,
        p.failed,
        p.not_yet,
    );
    html! {
        div.bar title=(words) {
            span.paid style=(format!("width:{:.1}%", pct(p.paid))) {}
            span.ready style=(format!("width:{:.1}%", pct(p.ready))) {}
            span.failed style=(format!("width:{:.1}%", pct(p.failed))) {}
        }
        span.muted.progress { (words) }
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
    mails: &email::MailCounts,
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
            (progress(b.size, &counts.progress))
            p.muted { (b.size) " orders · "
                a href=(format!("/admin/orders?{}", query_pair("blast", &b.id))) { "search them" } " · "
                a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { "its failures" } }
            @if *mails != email::MailCounts::default() {
                p id="mails" { "Mails: " b { (mails.sent) " sent" } " · " (mails.queued + mails.deferred) " waiting · "
                    @if mails.rejected > 0 {
                        a href=(format!("/admin/failures?{}", query_pair("blast", &b.id))) { (mails.rejected) " rejected" }
                    } @else { "0 rejected" }
                    @if mails.failed > 0 { " · " (mails.failed) " failed" } }
            }
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
