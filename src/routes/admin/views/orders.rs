//! Lists of orders: the search page ("find anyone") and the table a blast's page shows too.

use maud::{Markup, html};
use paylink_core::domain::PageRequest;
use paylink_core::store::order;
use paylink_core::store::order_search::{OrderQuery, Standing};

use super::{format_money, layout, path_segment, query_pair};

/// The pay URL of an order, as the deployment hands it out.
pub type PayUrl<'a> = &'a dyn Fn(&order::Model) -> String;

/// Orders with their payer, amount, state and a pay URL ready to copy and resend.
pub fn order_table(orders: &[order::Model], pay_url: PayUrl<'_>) -> Markup {
    html! {
        div.scroll {
            table.orders {
                tr { th { "order" } th { "payer" } th { "amount" } th { "state" } th { "pay URL" } }
                @for o in orders {
                    tr data-order=(o.id) {
                        td { a href=(format!("/admin/orders/{}", path_segment(&o.id))) { (o.external_ref) } }
                        td { (o.payer_name) br; span.muted { (o.payer_email) } }
                        td { (format_money(o.amount_cents, &o.currency)) }
                        td { (state_words(o)) }
                        td { (copyable(&pay_url(o))) }
                    }
                }
            }
        }
    }
}

/// An order's state as the organiser says it.
pub fn state_words(o: &order::Model) -> &'static str {
    use order::{LinkState, Status};
    match (o.status, o.link_state) {
        (Status::Paid, _) => "paid",
        (Status::Cancelled, _) => "cancelled",
        (Status::Pending, LinkState::Failed) => "needs attention: no pay link",
        (Status::Pending, LinkState::Minting) => "unpaid: pay link being made",
        (Status::Pending, LinkState::Active) => "unpaid",
        (Status::Pending, LinkState::Deactivated) => "unpaid: link switched off",
    }
}

/// A URL in a read-only field: one click selects it all for copying (no script needed).
pub fn copyable(url: &str) -> Markup {
    html! { input.copy type="text" readonly value=(url) aria-label="pay URL" size="24"; }
}

/// What the orders page shows.
pub struct OrdersView<'a> {
    pub query: &'a OrderQuery,
    pub orders: &'a [order::Model],
    pub page: PageRequest,
    pub has_more: bool,
}

/// The query string of `query` (without the page), for links that keep the search.
pub fn query_string(query: &OrderQuery) -> String {
    let mut pairs = vec![
        query_pair("q", &query.text),
        query_pair("state", query.standing.as_str()),
    ];
    if let Some(b) = &query.blast_id {
        pairs.push(query_pair("blast", b));
    }
    if let Some(c) = &query.currency {
        pairs.push(query_pair("currency", c));
    }
    pairs.join("&")
}

pub fn orders_page(csrf: &str, view: &OrdersView<'_>, pay_url: PayUrl<'_>) -> Markup {
    let q = view.query;
    let keep = query_string(q);
    let first_row = view.page.offset() + 1;
    layout(
        "Orders",
        csrf,
        html! {
            h1 { "Orders" }
            form.search method="get" action="/admin/orders" role="search" {
                input type="search" name="q" value=(q.text) placeholder="email, name, ref, order or Stripe id" aria-label="search";
                " "
                select name="state" aria-label="which orders" {
                    @for s in Standing::ALL {
                        option value=(s.as_str()) selected[s == q.standing] { (standing_words(s)) }
                    }
                }
                @if let Some(b) = &q.blast_id { input type="hidden" name="blast" value=(b); }
                @if let Some(c) = &q.currency { input type="hidden" name="currency" value=(c); }
                " " button.primary type="submit" { "Search" }
            }
            p.muted {
                @if let Some(b) = &q.blast_id { "In blast " code { (b) } ". " }
                @if let Some(c) = &q.currency { "In " (c.to_uppercase()) " only. " }
                @if q.blast_id.is_some() || q.currency.is_some() {
                    a href=(format!("/admin/orders?{}&{}", query_pair("q", &q.text), query_pair("state", q.standing.as_str()))) { "Search every order" } ". "
                }
                a href=(format!("/admin/orders.csv?{keep}")) id="export" { "Download these as CSV" }
            }
            @if view.orders.is_empty() {
                p id="no-orders" { "No orders match." }
            } @else {
                (order_table(view.orders, pay_url))
            }
            p.muted id="pager" {
                @if !view.orders.is_empty() { "Orders " (first_row) "–" (view.page.offset() + view.orders.len() as u64) ". " }
                @if view.page.number() > 1 { a href=(format!("/admin/orders?{keep}&page={}", view.page.number() - 1)) { "Previous page" } " " }
                @if view.has_more { a href=(format!("/admin/orders?{keep}&page={}", view.page.number() + 1)) { "Next page" } }
            }
        },
    )
}

fn standing_words(s: Standing) -> &'static str {
    match s {
        Standing::All => "all orders",
        Standing::Unpaid => "unpaid",
        Standing::Paid => "paid",
        Standing::Failed => "needs attention",
        Standing::Cancelled => "cancelled",
    }
}
