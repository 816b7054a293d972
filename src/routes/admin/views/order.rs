//! One order's page.

use maud::{Markup, html};
use paylink_core::store::order;
use sea_orm::ActiveEnum as _;

use super::{layout, money, path_segment, when};

/// One order's page: its timeline with Stripe's ids, linked to the Stripe dashboard when the
/// key is live (`dashboard` is its base URL then).
pub fn order_page(
    csrf: &str,
    o: &order::Model,
    product: Option<&str>,
    dashboard: Option<&str>,
) -> Markup {
    let stripe = |path: &str, id: &str| -> Markup {
        match dashboard {
            Some(base) => {
                html! { a href=(format!("{base}/{path}/{}", path_segment(id))) { code { (id) } } }
            }
            None => html! { code { (id) } },
        }
    };
    let link_id = o.stripe_payment_link_id.as_deref();
    layout(
        &o.external_ref,
        csrf,
        html! {
            h1 { "Order " (o.external_ref) }
            p { (o.payer_name) " <" (o.payer_email) "> · " (money(o.amount_cents, &o.currency))
                " · " (product.unwrap_or("unknown product")) " · status " b { (o.status.to_value()) } ", link " b { (o.link_state.to_value()) } }
            @if let Some(e) = &o.last_error { p.error { (e) } }
            table id="timeline" {
                tr { th { "when" } th { "what" } th { "Stripe" } }
                tr { td { (when(Some(o.created_at))) } td { "created" } td { code { (o.id) } } }
                @if let Some(at) = o.minted_at {
                    tr { td { (when(Some(at))) } td { "minted (generation " (o.link_generation) ", " (o.attempts) " Stripe requests)" }
                         td { @if let Some(id) = link_id { (stripe("payment-links", id)) } } }
                }
                @if o.link_state == order::LinkState::Failed {
                    tr { td { (when(o.last_attempt_at)) } td { "failed after " (o.attempts) " Stripe requests" } td {} }
                }
                @if let Some(at) = o.first_clicked_at {
                    tr { td { (when(Some(at))) } td { "payer opened the pay URL" } td {} }
                }
                @if let Some(at) = o.paid_at {
                    tr { td { (when(Some(at))) } td { "paid" }
                         td {
                            @if let Some(pi) = &o.stripe_payment_intent_id { (stripe("payments", pi)) " " }
                            @if let Some(cs) = &o.stripe_checkout_session_id { span.muted { (cs) } }
                         } }
                }
                @if let Some(at) = o.deactivated_at {
                    tr { td { (when(Some(at))) } td { "link switched off" } td { @if let Some(id) = link_id { (stripe("payment-links", id)) } } }
                }
                @if let Some(at) = o.cancelled_at {
                    tr { td { (when(Some(at))) } td { "cancelled" } td {} }
                }
            }
            @if o.status == order::Status::Pending {
                p {
                    @if o.link_state == order::LinkState::Failed {
                        form.inline method="post" action=(format!("/admin/orders/{}/retry", path_segment(&o.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.primary type="submit" { "Retry" }
                        }
                        " "
                    }
                    form.inline method="post" action=(format!("/admin/orders/{}/cancel", path_segment(&o.id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Cancel order" }
                    }
                }
            }
        },
    )
}
