//! A blast's result as the organiser emails it: one row per order with its pay URL, as JSON
//! (the API) or CSV (the API's export and `paylink blast --out`).

use paylink_core::store::order;
use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;

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
