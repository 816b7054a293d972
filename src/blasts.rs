//! Creating a blast: many orders at once, all or nothing, from the API or a CSV file.
//!
//! Every row is checked first; if any is invalid nothing is created and each problem is reported
//! with its row index. The blast's id is derived from its name and rows, so submitting the same
//! blast again (re-running the same file) creates nothing new. Orders go into the database only:
//! the feeder moves them into the queue a bounded window at a time.

use std::collections::{HashMap, HashSet};

use paylink_workers::store::{blast, order, product};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::order_input::{OrderInput, same_order};
use crate::routes::ApiError;

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
    #[error("{0}")]
    Invalid(String),
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
    let name = crate::routes::validate::text("name", name, 200)
        .map_err(|e| BlastError::Invalid(e.to_string()))?;
    if rows.is_empty() {
        return Err(BlastError::Invalid(
            "orders: a blast needs at least one order".into(),
        ));
    }
    if rows.len() > MAX_ORDERS {
        return Err(BlastError::Invalid(format!(
            "orders: a blast takes at most {MAX_ORDERS} orders, got {}",
            rows.len()
        )));
    }
    let id = blast_id(&name, &rows);
    let products = load_products(db, &rows).await?;
    let mut errors = Vec::new();
    let mut new_orders = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    for (row, input) in rows.iter().enumerate() {
        match input.validate(products.get(&input.product_id), Some(id.clone())) {
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
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        let total = errors.len();
        errors.truncate(MAX_REPORTED);
        return Err(BlastError::InvalidRows(errors, total));
    }
    let size = new_orders.len();
    let txn = db.begin().await?;
    let created = blast::insert_if_new(&txn, &id, &name, size as i32).await?;
    order::insert_many(&txn, new_orders.into_iter().map(|(_, o)| o).collect()).await?;
    txn.commit().await?;
    Ok(Created {
        id,
        name,
        size,
        created,
    })
}

fn row_error(row: usize, error: ApiError) -> RowError {
    match error {
        ApiError::Validation { field, message } => RowError {
            row,
            field,
            message,
        },
        other => RowError {
            row,
            field: "row".into(),
            message: other.to_string(),
        },
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

impl From<BlastError> for ApiError {
    fn from(error: BlastError) -> Self {
        match error {
            BlastError::InvalidRows(rows, total) => ApiError::InvalidRows { rows, total },
            BlastError::Invalid(message) => {
                let field = message.split(':').next().unwrap_or("body").to_owned();
                ApiError::Validation { field, message }
            }
            BlastError::Database(e) => e.into(),
        }
    }
}

/// One row of a blast's result: everything needed to email the payer.
#[derive(Debug, Serialize)]
pub struct ResultRow {
    external_ref: String,
    payer_email: String,
    payer_name: String,
    amount_cents: i64,
    currency: String,
    status: order::Status,
    link_state: order::LinkState,
    pay_url: String,
    last_error: Option<String>,
}

impl ResultRow {
    pub fn new(o: order::Model, pay_url: String) -> Self {
        Self {
            pay_url,
            external_ref: o.external_ref,
            payer_email: o.payer_email,
            payer_name: o.payer_name,
            amount_cents: o.amount_cents,
            currency: o.currency,
            status: o.status,
            link_state: o.link_state,
            last_error: o.last_error,
        }
    }
}

/// Every order of the blast, oldest first, with its pay URL from `pay_url(token)`.
pub async fn all_rows(
    db: &DatabaseConnection,
    id: &str,
    pay_url: impl Fn(&str) -> String,
) -> Result<Vec<ResultRow>, DbErr> {
    const PAGE: u64 = 1000;
    let mut rows = Vec::new();
    loop {
        let found = order::list_for_blast(db, id, rows.len() as u64, PAGE).await?;
        let done = (found.len() as u64) < PAGE;
        rows.extend(found.into_iter().map(|o| {
            let url = pay_url(&o.pay_token);
            ResultRow::new(o, url)
        }));
        if done {
            return Ok(rows);
        }
    }
}

/// The rows as CSV with a header line.
pub fn to_csv(rows: &[ResultRow]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        writer.write_record([
            "external_ref",
            "payer_email",
            "payer_name",
            "amount_cents",
            "currency",
            "status",
            "link_state",
            "pay_url",
            "last_error",
        ])?;
    }
    for r in rows {
        writer.serialize(r)?;
    }
    Ok(writer.into_inner()?)
}
