//! Creating a product: its fields checked, and never a second product of the same name and
//! category. A product id that was lost is found again (`GET /v1/products`, the dashboard's
//! products page) rather than made anew: two "Monthly dues" would split one month's orders
//! between two ids.
//!
//! Names match whatever their case and spacing (`Monthly dues` and `monthly  dues `). The
//! check is made here, just before the insert, rather than by a unique index: a database from
//! before it may already hold such pairs, and an index would fail to build there; and the
//! comparison (Unicode case, inner spaces) is not one both PostgreSQL and SQLite can index.
//! The check and the insert share one write transaction (`store::begin_write`), which on
//! SQLite holds the file's write lock from the start, so two creates at once are taken one
//! after the other. On PostgreSQL (read committed) two creates at the same instant can still
//! both pass; a duplicate only splits orders, it loses nothing.

use sea_orm::{DatabaseConnection, DbErr};

use crate::domain::{Currency, FieldError, text};
use crate::store::product::{self, CATEGORIES, name_key};

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A product of this name and category exists: the one to use.
    #[error(
        "a {} product named {:?} exists already: use its id {} (GET /v1/products/{}, or the \
         dashboard's /admin/products)",
        .0.category, .0.name, .0.id, .0.id
    )]
    Duplicate(product::Model),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Checks the fields and stores the product, unless one of the same name and category exists.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    category: &str,
    currency: &str,
) -> Result<product::Model, ProductError> {
    let name = text("name", name, 200)?;
    if !CATEGORIES.contains(&category) {
        return Err(FieldError::new(
            "category",
            format!("{category:?} is not one of {}", CATEGORIES.join(", ")),
        )
        .into());
    }
    let currency = Currency::parse("currency", currency)?.into_inner();
    let key = name_key(&name);
    let txn = crate::store::begin_write(db).await?;
    let existing = product::in_category(&txn, category).await?;
    if let Some(first) = existing.into_iter().find(|p| name_key(&p.name) == key) {
        return Err(ProductError::Duplicate(first));
    }
    let created = product::insert(&txn, &name, category, &currency).await?;
    txn.commit().await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::name_key;

    #[test]
    fn names_differing_in_case_or_spacing_are_the_same_name() {
        assert_eq!(name_key("Monthly dues"), name_key("  monthly   DUES "));
        assert_eq!(name_key("Zoë's Jersey"), name_key("ZOË'S jersey"));
        assert_ne!(name_key("Monthly dues"), name_key("Monthly due"));
    }
}
