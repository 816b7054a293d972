//! An order as a caller submits it (an API body, a row of a blast, a line of a CSV file) and
//! the checks that turn it into a [`NewOrder`]. One set of rules for every way in. The store
//! looks up the product the caller named and answers in the terms of [`ProductNamed`].

use serde::{Deserialize, Serialize};

use super::{AmountCents, Currency, Email, FieldError, text};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub external_ref: String,
    /// A product's id, or its name (`product` is the same field): see [`ProductNamed`].
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

/// What the caller supplies for a new order, checked; the store generates the rest.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub external_ref: String,
    pub product_id: String,
    pub blast_id: Option<String>,
    pub payer_email: Email,
    pub payer_name: String,
    pub amount_cents: AmountCents,
    pub currency: Currency,
}

/// What an order's product reference (an id, or a product's name) named among the stored
/// products, as far as the order's checks need it. The store resolves the reference
/// (`store::product::find_by_id_or_name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductNamed {
    Found {
        id: String,
        currency: String,
    },
    /// The name is that of more than one product: their ids.
    Ambiguous(Vec<String>),
    Missing,
}

impl OrderInput {
    /// Checks every field; `product` is what `product_id` resolved to.
    pub fn validate(
        &self,
        product: &ProductNamed,
        blast_id: Option<String>,
    ) -> Result<NewOrder, FieldError> {
        let external_ref = text("external_ref", &self.external_ref, 255)?;
        let amount_cents = AmountCents::parse("amount_cents", self.amount_cents)?;
        let payer_email = Email::parse("payer.email", &self.payer.email)?;
        let payer_name = text("payer.name", &self.payer.name, 200)?;
        let (product_id, product_currency) = match product {
            ProductNamed::Found { id, currency } => (id, currency),
            ProductNamed::Missing => {
                return Err(FieldError::new(
                    "product_id",
                    format!(
                        "no product {:?} (no product has that id or name)",
                        self.product_id
                    ),
                ));
            }
            ProductNamed::Ambiguous(ids) => {
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
            None => Currency::parse("currency", product_currency)?,
        };
        Ok(NewOrder {
            external_ref,
            product_id: product_id.clone(),
            blast_id,
            payer_email,
            payer_name,
            amount_cents,
            currency,
        })
    }
}
