//! A blast's result as the organiser emails it: one row per order with its pay URL, as JSON
//! (the API) or CSV (the API's export and `paylink blast --out`).
//!
//! Every CSV paylink writes goes through [`to_csv`], which defuses spreadsheet formulas: payer
//! names, emails and refs come from whoever submitted the orders, and the organiser opens the
//! result in a spreadsheet (docs/security.md).

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paylink_core::domain::plain_amount;
use paylink_core::store::{order, product};
use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;

/// One row of a blast's result: everything needed to email the payer, and the order's `id`
/// for changing it later (`PATCH /v1/orders/{id}`). New fields go at the end: scripts read
/// the CSV's columns by position too.
#[derive(Debug, Serialize)]
pub struct ResultRow {
    external_ref: String,
    id: String,
    payer_email: String,
    payer_name: String,
    amount_cents: i64,
    currency: String,
    status: order::Status,
    link_state: order::LinkState,
    pay_url: String,
    last_error: Option<String>,
    /// The product's name ([`name_products`] fills it in; empty until then).
    product_name: String,
    paid_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    product_id: String,
}

impl ResultRow {
    pub fn new(o: order::Model, pay_url: String) -> Self {
        Self {
            pay_url,
            product_name: String::new(),
            paid_at: o.paid_at,
            product_id: o.product_id,
            external_ref: o.external_ref,
            id: o.id,
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

/// Fills in each row's product name, reading each product once.
pub async fn name_products(db: &DatabaseConnection, rows: &mut [ResultRow]) -> Result<(), DbErr> {
    let mut names: HashMap<String, String> = HashMap::new();
    for row in rows.iter_mut() {
        if !names.contains_key(&row.product_id) {
            let name = product::find(db, &row.product_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            names.insert(row.product_id.clone(), name);
        }
        row.product_name = names.get(&row.product_id).cloned().unwrap_or_default();
    }
    Ok(())
}

/// Every order of the blast, in the blast's row order, with its pay URL from `pay_url(token)`.
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
            name_products(db, &mut rows).await?;
            return Ok(rows);
        }
    }
}

/// A row as written to CSV: every text cell through [`safe_cell`]; the amounts stay numbers
/// (`amount_cents` as stored, `amount` in the currency's units: `45.00`, `4500` for yen), the
/// paid date is UTC as `2026-04-01 09:30:00`, which spreadsheets read as a date.
/// The CSV is what the organiser mail-merges, so a row whose link failed has an empty
/// `pay_url` beside `link_state` `failed` and its `last_error`: it is not emailed as if it
/// worked (the pay URL itself stays the order's and works once an operator retries the link;
/// the JSON keeps it, for programs that read `link_state`).
#[derive(Serialize)]
struct CsvRow<'a> {
    external_ref: Cow<'a, str>,
    id: Cow<'a, str>,
    payer_email: Cow<'a, str>,
    payer_name: Cow<'a, str>,
    amount_cents: i64,
    currency: Cow<'a, str>,
    status: order::Status,
    link_state: order::LinkState,
    pay_url: Option<Cow<'a, str>>,
    last_error: Option<Cow<'a, str>>,
    amount: String,
    product_name: Cow<'a, str>,
    paid_at: Option<String>,
}

impl<'a> From<&'a ResultRow> for CsvRow<'a> {
    fn from(r: &'a ResultRow) -> Self {
        Self {
            external_ref: safe_cell(&r.external_ref),
            id: safe_cell(&r.id),
            payer_email: safe_cell(&r.payer_email),
            payer_name: safe_cell(&r.payer_name),
            amount_cents: r.amount_cents,
            currency: safe_cell(&r.currency),
            status: r.status,
            link_state: r.link_state,
            pay_url: (r.link_state != order::LinkState::Failed).then(|| safe_cell(&r.pay_url)),
            last_error: r.last_error.as_deref().map(safe_cell),
            amount: plain_amount(r.amount_cents, &r.currency),
            product_name: safe_cell(&r.product_name),
            paid_at: r
                .paid_at
                .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()),
        }
    }
}

/// A text cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'` (OWASP's advice on CSV injection), so Excel, LibreOffice
/// and Google Sheets show it as text instead of evaluating it as a formula.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// UTF-8's byte-order mark. Excel reads a CSV without it in the machine's legacy code page
/// (`ZoÃ« MÃ¼ller` for `Zoë Müller`); with it, as UTF-8. CSV readers in programs skip it (the
/// csv crate; Python with `encoding="utf-8-sig"`).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The rows as CSV with a header line, every text cell defused by [`safe_cell`], after a
/// [`BOM`] so that a spreadsheet opens names with accents as written.
pub fn to_csv(rows: &[ResultRow]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(BOM.to_vec());
    if rows.is_empty() {
        writer.write_record([
            "external_ref",
            "id",
            "payer_email",
            "payer_name",
            "amount_cents",
            "currency",
            "status",
            "link_state",
            "pay_url",
            "last_error",
            "amount",
            "product_name",
            "paid_at",
        ])?;
    }
    for r in rows {
        writer.serialize(CsvRow::from(r))?;
    }
    Ok(writer.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_get_a_leading_quote_and_others_stay() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+cmd|' /C calc'!A0",
            "-2",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(safe_cell(cell), format!("'{cell}"));
        }
        for cell in ["Pat Parent", "", "pat@example.com", "a=b", " =1", "'quoted"] {
            assert_eq!(safe_cell(cell), cell);
        }
    }
}
