//! Creating a blast: many orders at once, all or nothing, from the API or a CSV file.
//!
//! Every row is checked first; if any is invalid nothing is created and each problem is reported
//! with its row index. The blast's id is derived from its name and rows, so submitting the same
//! blast again (re-running the same file) creates nothing new. Orders go into the database only:
//! the feeder moves them into the queue a bounded window at a time.
//!
//! [`preview`] runs the same checks and answers what the blast would create (totals per
//! currency, rows already stored, amounts that look wrong) without creating anything.

use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::domain::{FieldError, OrderInput};
use crate::store::{blast, order};

mod check;
mod preview;
pub use check::{BlastError, MAX_ORDERS, RowError};
use check::{check_blast, check_rows};
pub use preview::{CurrencyTotal, Formatted, Preview, Warning};

/// The created (or already existing) blast.
#[derive(Clone, Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub name: String,
    /// The orders this call created; when it created none (every row already was an order),
    /// the size of the blast that holds them.
    pub size: usize,
    /// False when nothing was created: this exact blast had been submitted before, or every
    /// row already was an order, and `id` names the blast that holds them.
    pub created: bool,
    /// Rows that already were orders (the same `external_ref` and content): not created again.
    pub existing: usize,
    /// The blasts holding those rows, by id.
    pub existing_blasts: Vec<String>,
}

/// Validates every row, then stores the blast and its new orders in one transaction. When every
/// row already is an order, no blast is stored (it would hold none of them): the answer names
/// the blast that holds them.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    rows: Vec<OrderInput>,
) -> Result<Created, BlastError> {
    let (name, id) = check_blast(name, &rows)?;
    let checked = check_rows(db, &id, &rows).await?.or_refuse()?;
    let existing_blasts = checked.existing_blasts();
    let existing = checked.existing_count();
    let new_orders: Vec<(usize, order::NewOrder)> = checked
        .valid
        .into_iter()
        .filter(|r| r.stored.is_none())
        .map(|r| (r.index, r.order))
        .collect();
    if new_orders.is_empty() {
        return holder(db, existing, existing_blasts).await;
    }
    let size = new_orders.len();
    let txn = crate::store::begin_write(db).await?;
    let created = blast::insert_if_new(&txn, &id, &name, size as i32).await?;
    if order::insert_many(&txn, new_orders).await? == 0 {
        // Another submission stored every row since the check: answer as if they had been
        // there, rather than keep a blast of no order.
        txn.rollback().await?;
        let checked = check_rows(db, &id, &rows).await?.or_refuse()?;
        return holder(db, checked.valid.len(), checked.existing_blasts()).await;
    }
    txn.commit().await?;
    Ok(Created {
        id,
        name,
        size,
        created,
        existing,
        existing_blasts: existing_blasts.into_iter().map(|(id, _)| id).collect(),
    })
}

/// The answer when every row already is an order: the blast holding them (the one holding
/// most, or the first of equals); an error when they were created outside any blast.
async fn holder(
    db: &DatabaseConnection,
    existing: usize,
    existing_blasts: Vec<(String, usize)>,
) -> Result<Created, BlastError> {
    let most = existing_blasts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(id, _)| id.clone());
    let found = match most {
        Some(id) => blast::find(db, &id).await?,
        None => None,
    };
    let Some(found) = found else {
        return Err(FieldError::new(
            "orders",
            "every row already is an order created outside any blast; nothing to create",
        )
        .into());
    };
    Ok(Created {
        id: found.id,
        name: found.name,
        size: usize::try_from(found.size).unwrap_or_default(),
        created: false,
        existing,
        existing_blasts: existing_blasts.into_iter().map(|(id, _)| id).collect(),
    })
}

/// What [`create`] would do with these rows, creating nothing: the same checks (the same
/// [`BlastError::InvalidRows`]), then the totals and warnings a person reads before money moves.
pub async fn preview(
    db: &DatabaseConnection,
    name: &str,
    rows: &[OrderInput],
) -> Result<Preview, BlastError> {
    let (name, id) = check_blast(name, rows)?;
    let checked = check_rows(db, &id, rows).await?.or_refuse()?;
    Ok(preview::summarise(name, id, rows.len(), &checked))
}

/// Every problem [`create`] would find with these rows, none left out (`create` reports the
/// first hundred), creating nothing: `paylink blast` lists them all (docs/api.md, "Billing
/// blasts").
pub async fn problems(
    db: &DatabaseConnection,
    name: &str,
    rows: &[OrderInput],
) -> Result<Vec<RowError>, BlastError> {
    let (_, id) = check_blast(name, rows)?;
    Ok(check_rows(db, &id, rows).await?.errors)
}
