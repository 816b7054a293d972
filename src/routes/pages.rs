//! The payer-facing HTML pages: plain, small, readable on a phone.

use maud::{DOCTYPE, Markup, html};

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}h1{font-size:1.4rem}" }
            }
            body { (body) }
        }
    }
}

pub fn paid(product: &str) -> Markup {
    layout(
        "Already paid",
        html! {
            h1 { "This payment has been made" }
            p { "Thank you: " (product) " is paid. There is nothing more to do." }
        },
    )
}

pub fn cancelled() -> Markup {
    layout(
        "Payment cancelled",
        html! {
            h1 { "This payment was cancelled" }
            p { "The organiser cancelled this request for payment. Contact them if you think this is a mistake." }
        },
    )
}

pub fn unknown() -> Markup {
    layout(
        "Payment not found",
        html! {
            h1 { "We could not find this payment" }
            p { "Check that the link is complete, exactly as it appeared in your email." }
        },
    )
}

pub fn preparing() -> Markup {
    layout(
        "Preparing your payment",
        html! {
            meta http-equiv="refresh" content="5";
            h1 { "Your payment page is being prepared" }
            p { "This usually takes a few seconds. This page reloads by itself." }
        },
    )
}

/// Something went wrong on paylink's side (the database, Stripe): it may pass. Nobody is told
/// by this page, so it promises nothing of the kind.
pub fn unavailable() -> Markup {
    layout(
        "Payment unavailable",
        html! {
            h1 { "This payment is not available right now" }
            p { "Please try again in a few minutes. If it keeps happening, contact the organiser." }
        },
    )
}

/// The order's link failed (Stripe refused it, or the retries ran out). It is in the
/// dashboard's failures until an operator retries or cancels it; the payer cannot fix it.
pub fn failed() -> Markup {
    layout(
        "Payment link unavailable",
        html! {
            h1 id="failed" { "This payment link could not be prepared" }
            p { "Please contact the organiser so they can send you a working one." }
        },
    )
}

/// What the payer paid for: the product's name (empty when unknown) and the amount as the
/// payer reads it (`$45.00`).
pub struct Item {
    pub name: String,
    pub amount: String,
}

impl Item {
    fn describe(&self) -> String {
        if self.name.is_empty() {
            self.amount.clone()
        } else {
            format!("{} for {}", self.amount, self.name)
        }
    }
}

/// The payer's return from Stripe once paylink has recorded the payment.
pub fn thanks_paid(item: &Item) -> Markup {
    layout(
        "Thank you",
        html! {
            h1 id="paid" { "Thank you: your payment is recorded" }
            p id="item" { "You paid " (item.describe()) "." }
            p { "There is nothing more to do; you can close this page." }
        },
    )
}

/// The payer's return before paylink could confirm the payment with Stripe; it reloads
/// itself from `reload` (paylink's own record, not Stripe). The item, when the order is known.
pub fn thanks_confirming(reload: &str, item: Option<&Item>) -> Markup {
    layout(
        "Confirming your payment",
        html! {
            meta http-equiv="refresh" content=(format!("10; url={reload}"));
            h1 id="confirming" { "Thank you: we are confirming your payment" }
            @if let Some(item) = item {
                p id="item" { "Your payment: " (item.describe()) "." }
            }
            p { "Stripe has your payment details. Confirmation usually takes a few seconds; this page reloads by itself, and you can close it at any time." }
        },
    )
}
