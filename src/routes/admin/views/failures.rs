//! The failures page: failed orders, payments needing attention, failed Stripe events.

use maud::{Markup, html};
use paylink_core::store::{email, order, payment, stripe_event};
use sea_orm::ActiveEnum as _;

use super::{format_money, layout, path_segment, when};

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
    /// Addresses the mail server refused for good, not fixed yet, with their orders.
    pub rejected_mail: &'a [(email::Model, order::Model)],
}

pub fn failures(csrf: &str, filter: &Filter, found: Failures<'_>, flash: Option<&str>) -> Markup {
    let Failures {
        orders,
        events,
        payments,
        rejected_mail,
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
                            td { (format_money(o.amount_cents, &o.currency)) }
                            td.error { (o.last_error.as_deref().unwrap_or("")) }
                            td { (o.attempts) }
                            td { (when(o.last_attempt_at)) }
                            td {
                                @if o.link_failure == Some(order::LinkFailure::Refused) {
                                    a.button.primary href=(format!("/admin/orders/{}#change-amount", path_segment(&o.id))) { "Change amount" }
                                } @else {
                                    form.inline method="post" action=(format!("/admin/orders/{}/retry", path_segment(&o.id))) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.primary type="submit" { "Retry" }
                                    }
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
            h2 { "Addresses the mail server refused (" (rejected_mail.len()) ")" }
            @if rejected_mail.is_empty() { p.muted { "None." } } @else {
                p.muted { "These payers were not mailed their pay link. Fix the address and paylink mails the new one." }
                table id="rejected-mail" {
                    tr { th { "order" } th { "address" } th { "the server said" } th { "new address" } }
                    @for (mail, o) in rejected_mail {
                        tr data-order=(o.id) {
                            td { a href=(format!("/admin/orders/{}", path_segment(&o.id))) { (o.external_ref) } br; span.muted { (o.payer_name) } }
                            td { (mail.recipient) }
                            td.error { (mail.reply.as_deref().unwrap_or("")) }
                            td {
                                form.inline method="post" action=(format!("/admin/orders/{}/payer_email", path_segment(&o.id))) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="email" name="email" required placeholder="payer@example.org";
                                    " " button.primary type="submit" { "Fix and resend" }
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
                                (Some(amount), Some(currency)) => (format_money(amount, currency)),
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
