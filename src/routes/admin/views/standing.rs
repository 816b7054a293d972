//! Where the money stands, as cards: the overview's and a blast page's first section.

use maud::{Markup, html};
use paylink_core::store::money;

use super::{format_money, query_pair};

/// The four groups of [`money::Money`] as cards, one row per currency, with a legend; scoped to
/// one blast's orders when `blast` is given (the links then filter by it).
pub fn standing(money: &money::Money, blast: Option<&str>) -> Markup {
    let scope = |state: &str, currency: &str| {
        let mut query = format!("state={state}&{}", query_pair("currency", currency));
        if let Some(b) = blast {
            query.push('&');
            query.push_str(&query_pair("blast", b));
        }
        format!("/admin/orders?{query}")
    };
    html! {
        @if money.by_currency.is_empty() {
            p.muted { "No orders yet." }
        }
        @for (currency, s) in &money.by_currency {
            h2 { "Money in " (currency.to_uppercase()) span.muted { " · " (s.orders()) " orders" } }
            div.cards data-currency=(currency) {
                (money_card("paid", "Paid", s.paid, &scope("paid", currency), currency))
                (money_card("unpaid", "Unpaid", s.unpaid, &scope("unpaid", currency), currency))
                (attention_card(s, &scope("failed", currency), currency))
                (money_card("cancelled", "Cancelled", s.cancelled, &scope("cancelled", currency), currency))
            }
        }
        details.legend {
            summary { "What these mean" }
            dl {
                dt { "Paid" } dd { "Stripe took the money (the amount it took)." }
                dt { "Unpaid" } dd { "The payer has a working pay link (or is about to) and has not paid: the amount still outstanding." }
                dt { "Needs attention" } dd { "No pay link could be made, so nobody can pay these until you retry, change the amount or cancel them. Below them, any payments to check: Stripe took a wrong amount, a payment after a cancel, or a second payment (those orders are in Paid; refund or settle them with the payer)." }
                dt { "Cancelled" } dd { "No money expected." }
            }
            p.muted { "Every order is in exactly one of the four." }
        }
    }
}

/// "Needs attention": the orders with no pay link, and under them the payments an operator
/// must check in this currency (two links, so one card cannot be a single link).
fn attention_card(s: &money::Standing, href: &str, currency: &str) -> Markup {
    html! {
        div.card.money data-label="attention" {
            a href=(href) { (figures("Needs attention", s.needs_attention, currency)) }
            @if s.payment_issues > 0 {
                a.issues href="/admin/failures#payment-issues" {
                    "and " (s.payment_issues) " payment" @if s.payment_issues != 1 { "s" } " to check"
                }
            }
        }
    }
}

fn money_card(key: &str, label: &str, sum: money::Sum, href: &str, currency: &str) -> Markup {
    html! {
        a.card.money href=(href) data-label=(key) { (figures(label, sum, currency)) }
    }
}

/// A card's label, amount and count of orders.
fn figures(label: &str, sum: money::Sum, currency: &str) -> Markup {
    html! {
        span.muted { (label) }
        b { (format_money(sum.cents, currency)) }
        span.muted { (sum.orders) " order" @if sum.orders != 1 { "s" } }
    }
}
