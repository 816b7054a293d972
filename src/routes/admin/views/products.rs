//! The products page: every product with its id (what a blast's CSV and `POST /v1/orders`
//! name), so a lost id is looked up here rather than made again; and the form that makes one,
//! which refuses a second product of the same name and category with a link to the first.

use maud::{Markup, html};
use paylink_core::store::product::{self, CATEGORIES};

use super::{layout, query_pair};

/// What the last press of "New product" did.
pub enum Outcome<'a> {
    Created(&'a product::Model),
    /// Refused: a product of that name and category exists (this one).
    Duplicate(&'a product::Model),
    /// Refused: a field was wrong (the message names it).
    Invalid(&'a str),
}

/// The product's row on this page, as a link target.
fn row_link(p: &product::Model) -> String {
    format!("/admin/products#{}", p.id)
}

pub fn products(
    csrf: &str,
    products: &[product::Model],
    has_more: bool,
    outcome: Option<Outcome<'_>>,
) -> Markup {
    layout(
        "Products",
        csrf,
        html! {
            h1 { "Products" }
            p.muted { "What people pay for. Orders and blast rows name a product by its id; the category decides whether a paid link is switched off and whether the card is saved." }
            @match outcome {
                Some(Outcome::Created(p)) => p.flash role="status" { "Created " (p.name) " (" (p.category) "): its id is " a href=(row_link(p)) { (p.id) } "." },
                Some(Outcome::Duplicate(p)) => p.error role="alert" { "Not created: a " (p.category) " product named “" (p.name) "” exists already. Use it: " a href=(row_link(p)) { (p.id) } "." },
                Some(Outcome::Invalid(message)) => p.error role="alert" { "Not created: " (message) },
                None => {},
            }
            (new_product_form(csrf))
            @if products.is_empty() {
                p { "No products yet." }
            } @else {
                div.scroll {
                    table id="products" {
                        tr { th { "name" } th { "category" } th { "currency" } th { "id" } th { "created" } th { "" } }
                        @for p in products {
                            tr id=(p.id) {
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

fn new_product_form(csrf: &str) -> Markup {
    html! {
        h2 { "New product" }
        form.actions id="new-product" method="post" action="/admin/products" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name " input name="name" required maxlength="200" placeholder="September dues"; }
            label { "Category "
                select name="category" { @for c in CATEGORIES { option value=(c) { (c) } } }
            }
            label { "Currency " input name="currency" value="usd" size="4" maxlength="3" required; }
            button.primary type="submit" { "Create product" }
        }
    }
}
