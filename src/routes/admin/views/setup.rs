//! Banners for a deployment whose setup stops money coming in: Stripe refusing paylink's API
//! key, or no webhook secret to check Stripe's messages with. Shown first on the overview, in
//! the words of what to change.

use maud::{Markup, html};
use paylink_core::stripe_key::KeyRefusal;

/// What is wrong with the setup, if anything.
pub struct Setup {
    pub key_refusal: Option<KeyRefusal>,
    /// Orders waiting for their pay link (while the key is refused, all of them wait).
    pub orders_waiting: u64,
    pub webhook_secret_missing: bool,
}

pub fn banners(setup: &Setup) -> Markup {
    html! {
        @if let Some(refusal) = &setup.key_refusal {
            div.banner role="alert" id="stripe-key-refused" {
                strong { "Pay links are not being made: Stripe refused paylink's API key." }
                p { "Stripe said: " q { (refusal.message) } " (since " (refusal.since.format("%Y-%m-%d %H:%M UTC")) ")." }
                p {
                    (setup.orders_waiting) " order" @if setup.orders_waiting != 1 { "s" } " wait"
                    @if setup.orders_waiting == 1 { "s" }
                    " for a link; none has failed for this. New orders are still taken. "
                    "paylink tries the key again every "
                    (paylink_core::stripe_key::RECHECK_EVERY.as_secs())
                    " seconds and makes the links by itself once Stripe takes it."
                }
                p { strong { "What to change: " } (refusal.fix()) }
            }
        }
        @if setup.webhook_secret_missing {
            div.banner role="alert" id="webhook-secret-missing" {
                strong { "Stripe's messages cannot be checked: no webhook secret is set." }
                p {
                    "Every payment notice Stripe sends is refused, so payments show up only when "
                    "the payer returns to paylink's page or when paylink next reads Stripe's events."
                }
                p {
                    strong { "What to change: " }
                    "set PAYLINK__STRIPE__WEBHOOK_SECRETS to the signing secret (whsec_…) of the "
                    "webhook endpoint in Stripe's dashboard (Developers → Webhooks), and restart paylink."
                }
            }
        }
    }
}
