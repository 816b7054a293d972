//! An order as a caller submits it (an API body, a row of a blast, a line of a CSV file) and
//! the checks that turn it into a [`NewOrder`]. One set of rules for every way in.

use serde::{Deserialize, Serialize};

use super::{AmountCents, Currency, Email, FieldError, text};
use crate::store::order::{self, NewOrder};
use crate::store::product;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub external_ref: String,
    /// A product's id, or its name (`product` is the same field): see
    /// [`product::find_by_id_or_name`].
    #[serde(alias = "product")]
    pub product_id: String,
    pub amount_cents: i64,
    pub currency: Option<String>,
    pub payer: Payer,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Payer {
    pub email: String,
    pub name: String,
}

impl OrderInput {
    /// Checks every field; `product` is what `product_id` resolved to.
    pub fn validate(
        &self,
        product: &product::Named,
        blast_id: Option<String>,
    ) -> Result<NewOrder, FieldError> {
        let external_ref = text("external_ref", &self.external_ref, 255)?;
        let amount_cents = AmountCents::parse("amount_cents", self.amount_cents)?;
        let payer_email = Email::parse("payer.email", &self.payer.email)?;
        let payer_name = text("payer.name", &self.payer.name, 200)?;
        let product = match product {
            product::Named::Found(product) => product,
            product::Named::Missing => {
                return Err(FieldError::new(
                    "product_id",
                    format!(
                        "no product {:?} (no product has that id or name)",
                        self.product_id
                    ),
                ));
            }
            product::Named::Ambiguous(ids) => {
                return Err(FieldError::new(
                    "product_id",
                    format!(
                        "{:?} is the name of {} products ({}): give the product's id",
                        self.product_id,
                        ids.len(),
                        ids.join(", ")
                    ),
                ));
            }
        };
        let currency = match &self.currency {
            Some(c) => Currency::parse("currency", c)?,
            None => Currency::parse("currency", &product.currency)?,
        };
        Ok(NewOrder {
            external_ref,
            product_id: product.id.clone(),
            blast_id,
            payer_email,
            payer_name,
            amount_cents,
            currency,
        })
    }
}

/// Whether a stored order is the one `new` describes (same caller key, same content): a retry,
/// not a conflict.
pub fn same_order(stored: &order::Model, new: &NewOrder) -> bool {
    stored.amount_cents == new.amount_cents.get()
        && stored.product_id == new.product_id
        && stored.currency == new.currency.as_str()
        && stored.payer_email == new.payer_email.as_str()
}
