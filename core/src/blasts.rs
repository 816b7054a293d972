//! Creating a blast: many orders at once, all or nothing, from the API or a CSV file.
//!
//! Every row is checked first; if any is invalid nothing is created and each problem is reported
//! with its row index. The blast's id is derived from its name and rows, so submitting the same
//! blast again (re-running the same file) creates nothing new. Orders go into the database only:
//! the feeder moves them into the queue a bounded window at a time.

use std::collections::{HashMap, HashSet};

use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, OrderInput, same_order, text};
use crate::store::{blast, order, product};

/// The most orders one blast takes.
pub const MAX_ORDERS: usize = 10_000;
/// Row problems reported at most (the rest are counted).
const MAX_REPORTED: usize = 100;

/// One invalid row.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RowError {
    /// Zero-based index of the row in the submitted list (the CSV's data rows).
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BlastError {
    #[error("{}", describe(.0))]
    InvalidRows(Vec<RowError>, usize),
    /// The blast itself (its name, its size) is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

fn describe(rows: &[RowError]) -> String {
    rows.first()
        .map(|e| format!("row {}: {}", e.row, e.message))
        .unwrap_or_default()
}

/// The created (or already existing) blast.
#[derive(Clone, Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub size: usize,
    /// False when this exact blast had been submitted before.
    pub created: bool,
}

/// Validates every row, then stores the blast and its orders in one transaction.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    rows: Vec<OrderInput>,
) -> Result<Created, BlastError> {
    let (name, id) = check_blast(name, &rows)?;
    let (mut errors, new_orders) = check_rows(db, &id, &rows).await?;
    if !errors.is_empty() {
        let total = errors.len();
        errors.truncate(MAX_REPORTED);
        return Err(BlastError::InvalidRows(errors, total));
    }
    let size = new_orders.len();
    let txn = crate::store::begin_write(db).await?;
    let created = blast::insert_if_new(&txn, &id, &name, size as i32).await?;
    order::insert_many(&txn, new_orders).await?;
    txn.commit().await?;
    Ok(Created {
        id,
        name,
        size,
        created,
    })
}

/// Every problem [`create`] would find with these rows, none left out (`create` reports the
/// first hundred), creating nothing: `paylink blast` lists them all (README, "Billing blasts").
pub async fn problems(
    db: &DatabaseConnection,
    name: &str,
    rows: &[OrderInput],
) -> Result<Vec<RowError>, BlastError> {
    let (_, id) = check_blast(name, rows)?;
    Ok(check_rows(db, &id, rows).await?.0)
}

/// The blast's own checks (its name, its size); answers the trimmed name and the blast's id.
fn check_blast(name: &str, rows: &[OrderInput]) -> Result<(String, String), BlastError> {
    let name = text("name", name, 200)?;
    if rows.is_empty() {
        return Err(FieldError::new("orders", "a blast needs at least one order").into());
    }
    if rows.len() > MAX_ORDERS {
        return Err(FieldError::new(
            "orders",
            format!(
                "a blast takes at most {MAX_ORDERS} orders, got {}",
                rows.len()
            ),
        )
        .into());
    }
    let id = blast_id(&name, rows);
    Ok((name, id))
}

/// Every row checked: the problems, sorted by row, and the valid rows as orders to store.
async fn check_rows(
    db: &DatabaseConnection,
    id: &str,
    rows: &[OrderInput],
) -> Result<(Vec<RowError>, Vec<(usize, order::NewOrder)>), DbErr> {
    let products = load_products(db, rows).await?;
    let mut errors = Vec::new();
    let mut new_orders = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    for (row, input) in rows.iter().enumerate() {
        match input.validate(products.get(&input.product_id), Some(id.to_owned())) {
            Ok(new) if !seen.insert(new.external_ref.clone()) => errors.push(RowError {
                row,
                field: "external_ref".into(),
                message: format!(
                    "external_ref: {:?} appears twice in this blast",
                    new.external_ref
                ),
            }),
            Ok(new) => new_orders.push((row, new)),
            Err(e) => errors.push(row_error(row, e)),
        }
    }
    let refs: Vec<String> = new_orders
        .iter()
        .map(|(_, o)| o.external_ref.clone())
        .collect();
    let existing: HashMap<String, order::Model> = order::find_by_external_refs(db, &refs)
        .await?
        .into_iter()
        .map(|o| (o.external_ref.clone(), o))
        .collect();
    for (row, new) in &new_orders {
        if let Some(stored) = existing
            .get(&new.external_ref)
            .filter(|s| !same_order(s, new))
        {
            errors.push(RowError {
                row: *row,
                field: "external_ref".into(),
                message: format!(
                    "external_ref: {:?} already names order {} with a different product, amount, currency or payer",
                    new.external_ref, stored.id
                ),
            });
        }
    }
    errors.sort_by_key(|e| e.row);
    Ok((errors, new_orders))
}

fn row_error(row: usize, error: FieldError) -> RowError {
    RowError {
        row,
        field: error.field,
        message: error.message,
    }
}

async fn load_products(
    db: &DatabaseConnection,
    rows: &[OrderInput],
) -> Result<HashMap<String, product::Model>, DbErr> {
    let ids: HashSet<&str> = rows.iter().map(|r| r.product_id.as_str()).collect();
    let mut products = HashMap::new();
    for id in ids {
        if let Some(p) = product::find(db, id).await? {
            products.insert(id.to_owned(), p);
        }
    }
    Ok(products)
}

/// `bl_` + 24 hex digits of SHA-256 over the name and every row: the same blast, the same id.
fn blast_id(name: &str, rows: &[OrderInput]) -> String {
    let mut hash = Sha256::new();
    hash.update(name.as_bytes());
    for r in rows {
        let line = format!(
            "\n{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            r.external_ref,
            r.product_id,
            r.amount_cents,
            r.currency.as_deref().unwrap_or(""),
            r.payer.email,
            r.payer.name
        );
        hash.update(line.as_bytes());
    }
    format!("bl_{}", &hex::encode(hash.finalize())[..24])
}
