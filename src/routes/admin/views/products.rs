//! The products page: every product with its id (what a blast's CSV and `POST /v1/orders`
//! name), so a lost id is looked up here rather than made again.

use maud::{Markup, html};
use paylink_core::store::product;

use super::{layout, query_pair};

pub fn products(csrf: &str, products: &[product::Model], has_more: bool) -> Markup {
    layout(
        "Products",
        csrf,
        html! {
            h1 { "Products" }
            p.muted { "What people pay for. Orders and blast rows name a product by its id; the category decides whether a paid link is switched off and whether the card is saved." }
            @if products.is_empty() {
                p { "No products yet. Create one with POST /v1/products." }
            } @else {
                div.scroll {
                    table id="products" {
                        tr { th { "name" } th { "category" } th { "currency" } th { "id" } th { "created" } th { "" } }
                        @for p in products {
                            tr {
                                td { (p.name) }
                                td { (p.category) }
                                td { (p.currency.to_uppercase()) }
                                td { input.copy type="text" readonly value=(p.id) aria-label="product id" size="18"; }
                                td.muted { (p.created_at.format("%Y-%m-%d")) }
                                td { a href=(format!("/admin/orders?{}", query_pair("q", &p.id))) { "orders" } }
                            }
                        }
                    }
                }
                @if has_more { p.muted { "The 500 newest are shown; GET /v1/products lists every one." } }
            }
        },
    )
}
