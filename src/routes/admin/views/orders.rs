//! Lists of orders.

use maud::{Markup, html};
use paylink_core::store::order;
use sea_orm::ActiveEnum as _;

use super::{money, path_segment};

pub fn order_table(orders: &[order::Model]) -> Markup {
    html! {
        table {
            tr { th { "order" } th { "payer" } th { "amount" } th { "status" } th { "link" } }
            @for o in orders {
                tr {
                    td { a href=(format!("/admin/orders/{}", path_segment(&o.id))) { (o.external_ref) } }
                    td { (o.payer_name) br; span.muted { (o.payer_email) } }
                    td { (money(o.amount_cents, &o.currency)) }
                    td { (o.status.to_value()) }
                    td { (o.link_state.to_value()) }
                }
            }
        }
    }
}
