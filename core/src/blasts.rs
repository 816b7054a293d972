//! Creating a blast: many orders at once, all or nothing, from the API or a CSV file.
//!
//! Every row is checked first; if any is invalid nothing is created and each problem is reported
//! with its row index. The blast's id is derived from its name and rows, so submitting the same
//! blast again (re-running the same file) creates nothing new. Orders go into the database only:
//! the feeder moves them into the queue a bounded window at a time.
//!
//! [`preview`] runs the same checks and answers what the blast would create (totals per
//! currency, rows already stored, amounts that look wrong) without creating anything.

use std::collections::{HashMap, HashSet};

use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, OrderInput, same_order, text};
use crate::store::{blast, order, product};

mod preview;
pub use preview::{CurrencyTotal, Formatted, Preview, Warning};

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

/// One valid row: its index, the order it describes, and the stored order it already is (the
/// same `external_ref` and content), if any.
struct ValidRow {
    index: usize,
    order: order::NewOrder,
    stored: Option<order::Model>,
}

/// Every row checked: the problems, sorted by row, and the valid rows.
struct Checked {
    errors: Vec<RowError>,
    valid: Vec<ValidRow>,
}

impl Checked {
    /// The rows as they are, or the first [`MAX_REPORTED`] problems as the error.
    fn or_refuse(mut self) -> Result<Self, BlastError> {
        if self.errors.is_empty() {
            return Ok(self);
        }
        let total = self.errors.len();
        self.errors.truncate(MAX_REPORTED);
        Err(BlastError::InvalidRows(self.errors, total))
    }

    fn new_count(&self) -> usize {
        self.valid.iter().filter(|r| r.stored.is_none()).count()
    }

    /// Valid rows that already are orders.
    fn existing_count(&self) -> usize {
        self.valid.len() - self.new_count()
    }

    /// The blasts holding rows that already are orders, by id, each with how many it holds.
    fn existing_blasts(&self) -> Vec<(String, usize)> {
        let mut held = std::collections::BTreeMap::<String, usize>::new();
        for stored in self.valid.iter().filter_map(|r| r.stored.as_ref()) {
            if let Some(blast) = &stored.blast_id {
                *held.entry(blast.clone()).or_default() += 1;
            }
        }
        held.into_iter().collect()
    }
}

async fn check_rows(
    db: &DatabaseConnection,
    id: &str,
    rows: &[OrderInput],
) -> Result<Checked, DbErr> {
    let products = load_products(db, rows).await?;
    let missing = product::Named::Missing;
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
) -> Result<HashMap<String, product::Named>, DbErr> {
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
