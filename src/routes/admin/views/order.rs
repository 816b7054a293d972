//! One order's page: who pays what, the pay URL to copy and resend, the story so far in time
//! order, and what can be done: Retry for a link that failed on the way, Change amount for one
//! Stripe refused, Cancel.

use maud::{Markup, html};
use paylink_core::store::{email, order};
use paylink_core::timeline::{Step, StripeObject};

use super::{copyable, format_money, layout, path_segment, state_words, when};

/// What the order page shows.
pub struct OrderView<'a> {
    pub order: &'a order::Model,
    pub product: Option<&'a str>,
    pub steps: &'a [Step],
    pub pay_url: &'a str,
    /// The Stripe dashboard's base URL when the key is live (ids become links).
    pub dashboard: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// The mails to the payer, oldest first.
    pub mails: &'a [email::Model],
    /// Whether sending is on (the "Send again" button needs it).
    pub mail_on: bool,
}

/// The order's amount as a person would type it into "New amount" (`45.00`, `4500` for yen).
fn amount_as_typed(cents: i64, currency: &str) -> String {
    let digits = paylink_core::domain::minor_digits(currency);
    let unit = 10_i64.pow(digits);
    match digits {
        0 => cents.to_string(),
        d => format!(
            "{}.{:0width$}",
            cents / unit,
            cents % unit,
            width = d as usize
        ),
    }
}

pub fn order_page(csrf: &str, v: &OrderView<'_>) -> Markup {
    let o = v.order;
    let stripe = |object: &StripeObject| -> Markup {
        let (path, id) = match object {
            StripeObject::PaymentLink(id) => ("payment-links", id),
            StripeObject::Payment(id) => ("payments", id),
            StripeObject::CheckoutSession(id) => ("checkout/sessions", id),
        };
        match v.dashboard {
            Some(base) => {
                html! { a href=(format!("{base}/{path}/{}", path_segment(id))) { code { (id) } } }
            }
            None => html! { code { (id) } },
        }
    };
    let refused = o.link_state == order::LinkState::Failed
        && o.link_failure == Some(order::LinkFailure::Refused);
    layout(
        &o.external_ref,
        csrf,
        html! {
            h1 { "Order " (o.external_ref) }
            @if let Some(notice) = v.notice { p.flash role="status" { (notice) } }
            dl.facts {
                dt { "payer" } dd { (o.payer_name) " " span.muted { "<" (o.payer_email) ">" } }
                dt { "for" } dd { (v.product.unwrap_or("unknown product")) }
                dt { "amount" } dd { (format_money(o.amount_cents, &o.currency)) }
                dt { "state" } dd { b { (state_words(o)) } }
                dt { "pay URL" } dd { (copyable(v.pay_url)) }
                dt { "order id" } dd { code { (o.id) } }
            }
            @if let Some(e) = &o.last_error {
                @if o.link_state == order::LinkState::Failed { p.error { "Why: " (e) } }
            }
            @if o.status == order::Status::Pending {
                div.actions {
                    @if refused {
                        p.muted { "Stripe refused this link, so trying again would fail the same way. Change the amount (Stripe's minimum charge is about 0.50 in most currencies) and paylink makes a new link; the pay URL stays the same." }
                    }
                    @if o.link_state == order::LinkState::Failed && !refused {
                        form.inline method="post" action=(format!("/admin/orders/{}/retry", path_segment(&o.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.primary type="submit" { "Retry" }
                        }
                        " "
                    }
                    form.inline id="change-amount" method="post" action=(format!("/admin/orders/{}/amount", path_segment(&o.id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        label { "New amount " input name="amount" inputmode="decimal" size="8" placeholder=(amount_as_typed(o.amount_cents, &o.currency)); }
                        " "
                        button.primary[refused] type="submit" { "Change amount" }
                    }
                    " "
                    form.inline method="post" action=(format!("/admin/orders/{}/cancel", path_segment(&o.id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Cancel order" }
                    }
                    @if v.mail_on {
                        " "
                        form.inline method="post" action=(format!("/admin/orders/{}/send_email", path_segment(&o.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Send again" }
                        }
                    }
                }
            }
            @if !v.mails.is_empty() {
                h2 { "Mails" }
                div.scroll {
                    table id="mails" {
                        tr { th { "queued" } th { "to" } th { "state" } th { "server's reply" } th { "sent" } }
                        @for mail in v.mails {
                            tr {
                                td.when { (when(Some(mail.created_at))) }
                                td { (mail.recipient) }
                                td { b { (mail.state.as_str()) } }
                                td { (mail.reply.as_deref().unwrap_or("")) }
                                td.when { (when(mail.sent_at)) }
                            }
                        }
                    }
                }
            }
            h2 { "What happened" }
            div.scroll {
                table id="timeline" {
                    tr { th { "when" } th { "what, and by whom" } th { "Stripe" } }
                    @for step in v.steps {
                        tr {
                            td.when { (when(Some(step.at))) }
                            td { (step.what) br; span.muted { "by " (step.by) } }
                            td { @if let Some(object) = &step.stripe { (stripe(object)) } }
                        }
                    }
                }
            }
        },
    )
}
