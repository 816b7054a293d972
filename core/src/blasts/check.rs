//! A blast's checks, shared by creating it and previewing it: the blast itself (its name, its
//! size, the id derived from both and its rows) and every row (valid as an order, not twice in
//! the blast, not an order already stored with other content).

use std::collections::{HashMap, HashSet};

use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, OrderInput, ProductNamed, text};
use crate::store::order::{self, same_order};
use crate::store::product;

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

/// The blast's own checks (its name, its size); answers the trimmed name and the blast's id.
pub(super) fn check_blast(name: &str, rows: &[OrderInput]) -> Result<(String, String), BlastError> {
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

/// One valid row: its index, the order it describes, and the stored order it already is (the
/// same `external_ref` and content), if any.
pub(super) struct ValidRow {
    pub(super) index: usize,
    pub(super) order: order::NewOrder,
    pub(super) stored: Option<order::Model>,
}

/// Every row checked: the problems, sorted by row, and the valid rows.
pub(super) struct Checked {
    pub(super) errors: Vec<RowError>,
    pub(super) valid: Vec<ValidRow>,
}

impl Checked {
    /// The rows as they are, or the first [`MAX_REPORTED`] problems as the error.
    pub(super) fn or_refuse(mut self) -> Result<Self, BlastError> {
        if self.errors.is_empty() {
            return Ok(self);
        }
        let total = self.errors.len();
        self.errors.truncate(MAX_REPORTED);
        Err(BlastError::InvalidRows(self.errors, total))
    }

    pub(super) fn new_count(&self) -> usize {
        self.valid.iter().filter(|r| r.stored.is_none()).count()
    }

    /// Valid rows that already are orders.
    pub(super) fn existing_count(&self) -> usize {
        self.valid.len() - self.new_count()
    }

    /// The blasts holding rows that already are orders, by id, each with how many it holds.
    pub(super) fn existing_blasts(&self) -> Vec<(String, usize)> {
        let mut held = std::collections::BTreeMap::<String, usize>::new();
        for stored in self.valid.iter().filter_map(|r| r.stored.as_ref()) {
            if let Some(blast) = &stored.blast_id {
                *held.entry(blast.clone()).or_default() += 1;
            }
        }
        held.into_iter().collect()
    }
}

pub(super) async fn check_rows(
    db: &DatabaseConnection,
    id: &str,
    rows: &[OrderInput],
) -> Result<Checked, DbErr> {
    let products = load_products(db, rows).await?;
    let missing = ProductNamed::Missing;
    let mut errors = Vec::new();
    let mut new_orders = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    for (row, input) in rows.iter().enumerate() {
        let product = products.get(&input.product_id).unwrap_or(&missing);
        match input.validate(product, Some(id.to_owned())) {
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
    let mut existing: HashMap<String, order::Model> = order::find_by_external_refs(db, &refs)
        .await?
        .into_iter()
        .map(|o| (o.external_ref.clone(), o))
        .collect();
    let mut valid = Vec::with_capacity(new_orders.len());
    for (row, new) in new_orders {
        let stored = existing.remove(&new.external_ref);
        if let Some(stored) = stored.as_ref().filter(|s| !same_order(s, &new)) {
            errors.push(RowError {
                row,
                field: "external_ref".into(),
                message: format!(
                    "external_ref: {:?} already names order {} with a different product, amount, currency or payer",
                    new.external_ref, stored.id
                ),
            });
            continue;
        }
        valid.push(ValidRow {
            index: row,
            order: new,
            stored,
        });
    }
    errors.sort_by_key(|e| e.row);
    Ok(Checked { errors, valid })
}

fn row_error(row: usize, error: FieldError) -> RowError {
    RowError {
        row,
        field: error.field,
        message: error.message,
    }
}

/// What each row's product reference (an id or a name) resolves to.
async fn load_products(
    db: &DatabaseConnection,
    rows: &[OrderInput],
) -> Result<HashMap<String, ProductNamed>, DbErr> {
    // One read of the products, whatever the number of rows and names.
    let all = product::all(db).await?;
    let references: HashSet<&str> = rows.iter().map(|r| r.product_id.as_str()).collect();
    Ok(references
        .into_iter()
        .map(|reference| (reference.to_owned(), product::resolve(&all, reference)))
        .collect())
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
