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

pub fn unavailable() -> Markup {
    layout(
        "Payment unavailable",
        html! {
            h1 { "This payment is not available right now" }
            p { "The organiser has been told. Please try again later or contact them." }
        },
    )
}

/// The payer's return from Stripe once paylink has recorded the payment.
pub fn thanks_paid() -> Markup {
    layout(
        "Thank you",
        html! {
            h1 id="paid" { "Thank you: your payment is recorded" }
            p { "You have paid. There is nothing more to do; you can close this page." }
        },
    )
}

/// The payer's return before paylink could confirm the payment with Stripe; it reloads
/// itself from `reload` (paylink's own record, not Stripe).
pub fn thanks_confirming(reload: &str) -> Markup {
    layout(
        "Confirming your payment",
        html! {
            meta http-equiv="refresh" content=(format!("10; url={reload}"));
            h1 id="confirming" { "Thank you: we are confirming your payment" }
            p { "Stripe has your payment details. Confirmation usually takes a few seconds; this page reloads by itself, and you can close it at any time." }
        },
    )
}
