//! A blast's preview: what `create` would store, summed per currency, and the amounts that look
//! like a mistake, read before any money moves (docs/api.md, "Billing blasts").
//!
//! The warnings, each with a code, a message and the rows (zero-based) concerned:
//! - `below_minimum`: an amount under Stripe's minimum charge in its currency
//!   ([`minimum_charge`]); Stripe would refuse its link.
//! - `far_from_median`: an amount more than [`FAR`] times above or below the median of the
//!   blast's amounts in its currency (with at least three of them): a digit too many or too few.
//! - `looks_like_whole_units`: in a currency with a minor unit, more than half the amounts are
//!   under 10 whole units (under 1000 cents, $10.00): the column was most likely written in
//!   dollars, so `60` would charge $0.60 rather than $60.00. The rows under 10 are named.

use std::collections::BTreeMap;

use serde::Serialize;

use super::check::Checked;
use crate::domain::{format_money, minimum_charge, minor_digits};

/// How many times above or below the median an amount may be before it is questioned.
const FAR: i64 = 10;
/// Amounts in a currency needed before its median means anything.
const MEDIAN_FROM: usize = 3;

/// What a blast would create.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    pub name: String,
    /// The id the blast gets (the same name and rows, the same id).
    pub id: String,
    pub rows: usize,
    /// Rows that would become new orders.
    pub new: usize,
    /// Rows that already are orders (the same `external_ref` and content): not created again.
    pub existing: usize,
    /// The blasts holding those rows, by id.
    pub existing_blasts: Vec<String>,
    /// Every row's amount, per currency, by currency code.
    pub currencies: Vec<CurrencyTotal>,
    pub warnings: Vec<Warning>,
}

/// One currency's amounts, in its smallest unit (cents).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: usize,
    pub total: i64,
    pub min: i64,
    pub max: i64,
    /// Of those, the rows that would be new orders, and their total.
    pub new_count: usize,
    pub new_total: i64,
    pub formatted: Formatted,
}

/// The same amounts as a payer reads them (`$45.00`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Formatted {
    pub total: String,
    pub min: String,
    pub max: String,
    pub new_total: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    /// Zero-based indexes of the rows concerned, as in row errors.
    pub rows: Vec<usize>,
}

/// One valid row's amount: (row, amount, whether it would be new).
type Amount = (usize, i64, bool);

pub(super) fn summarise(name: String, id: String, rows: usize, checked: &Checked) -> Preview {
    let mut per_currency: BTreeMap<String, Vec<Amount>> = BTreeMap::new();
    for row in &checked.valid {
        per_currency
            .entry(row.order.currency.as_str().to_owned())
            .or_default()
            .push((
                row.index,
                row.order.amount_cents.get(),
                row.stored.is_none(),
            ));
    }
    let mut warnings = Vec::new();
    for (currency, amounts) in &per_currency {
        warnings.extend(below_minimum(currency, amounts));
        warnings.extend(far_from_median(currency, amounts));
        warnings.extend(whole_units(currency, amounts));
    }
    Preview {
        name,
        id,
        rows,
        new: checked.new_count(),
        existing: checked.existing_count(),
        existing_blasts: checked
            .existing_blasts()
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
        currencies: per_currency
            .iter()
            .map(|(currency, amounts)| total(currency, amounts))
            .collect(),
        warnings,
    }
}

fn total(currency: &str, amounts: &[Amount]) -> CurrencyTotal {
    let sum = |rows: &mut dyn Iterator<Item = &Amount>| {
        rows.fold(0_i64, |sum, (_, amount, _)| sum.saturating_add(*amount))
    };
    let total = sum(&mut amounts.iter());
    let new_total = sum(&mut amounts.iter().filter(|a| a.2));
    let min = amounts.iter().map(|a| a.1).min().unwrap_or_default();
    let max = amounts.iter().map(|a| a.1).max().unwrap_or_default();
    CurrencyTotal {
        currency: currency.to_owned(),
        count: amounts.len(),
        total,
        min,
        max,
        new_count: amounts.iter().filter(|a| a.2).count(),
        new_total,
        formatted: Formatted {
            total: format_money(total, currency),
            min: format_money(min, currency),
            max: format_money(max, currency),
            new_total: format_money(new_total, currency),
        },
    }
}

fn rows_where(amounts: &[Amount], keep: impl Fn(i64) -> bool) -> Vec<usize> {
    amounts
        .iter()
        .filter(|a| keep(a.1))
        .map(|(row, _, _)| *row)
        .collect()
}

fn below_minimum(currency: &str, amounts: &[Amount]) -> Option<Warning> {
    let minimum = minimum_charge(currency)?;
    let rows = rows_where(amounts, |a| a < minimum);
    (!rows.is_empty()).then(|| Warning {
        code: "below_minimum",
        message: format!(
            "{} row(s) charge less than {}, Stripe's smallest {} charge: Stripe refuses such links",
            rows.len(),
            format_money(minimum, currency),
            currency.to_ascii_uppercase()
        ),
        rows,
    })
}

fn far_from_median(currency: &str, amounts: &[Amount]) -> Option<Warning> {
    if amounts.len() < MEDIAN_FROM {
        return None;
    }
    let mut sorted: Vec<i64> = amounts.iter().map(|a| a.1).collect();
    sorted.sort_unstable();
    let middle = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2
    } else {
        sorted[middle]
    };
    let rows = rows_where(amounts, |a| {
        a > median.saturating_mul(FAR) || a.saturating_mul(FAR) < median
    });
    (!rows.is_empty()).then(|| Warning {
        code: "far_from_median",
        message: format!(
            "{} row(s) are more than {FAR} times above or below the median {} amount, {}",
            rows.len(),
            currency.to_ascii_uppercase(),
            format_money(median, currency)
        ),
        rows,
    })
}

fn whole_units(currency: &str, amounts: &[Amount]) -> Option<Warning> {
    let digits = minor_digits(currency);
    if digits == 0 {
        return None;
    }
    let unit = 10_i64.pow(digits);
    let rows = rows_where(amounts, |a| a < 10 * unit);
    (rows.len() * 2 > amounts.len()).then(|| {
        let example = amounts
            .iter()
            .map(|a| a.1)
            .find(|a| *a < 10 * unit)
            .unwrap_or(60);
        Warning {
            code: "looks_like_whole_units",
            message: format!(
                "{} of {} {} amounts are under {}: amount_cents counts the smallest unit, so \
                 {example} charges {}; if the column is in whole units, write {} for {}",
                rows.len(),
                amounts.len(),
                currency.to_ascii_uppercase(),
                format_money(10 * unit, currency),
                format_money(example, currency),
                example.saturating_mul(unit),
                format_money(example.saturating_mul(unit), currency),
            ),
            rows,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(values: &[i64]) -> Vec<Amount> {
        values
            .iter()
            .enumerate()
            .map(|(i, a)| (i, *a, true))
            .collect()
    }

    #[test]
    fn a_median_needs_three_amounts_and_flags_tenfold_both_ways() {
        assert_eq!(far_from_median("usd", &amounts(&[100, 100_000])), None);
        let far = far_from_median("usd", &amounts(&[4500, 4500, 449, 45_001, 4500])).unwrap();
        assert_eq!(far.rows, [2, 3]);
        assert!(far.message.contains("$45.00"), "{}", far.message);
        assert_eq!(far_from_median("usd", &amounts(&[4500, 450, 45_000])), None);
    }

    #[test]
    fn whole_units_need_more_than_half_under_ten_and_a_minor_unit() {
        assert_eq!(whole_units("usd", &amounts(&[60, 4500])), None);
        let dollars = whole_units("usd", &amounts(&[60, 45, 4500])).unwrap();
        assert_eq!(dollars.rows, [0, 1]);
        assert!(
            dollars.message.contains(
                "60 charges $0.60; if the column is in whole units, write 6000 for $60.00"
            ),
            "{}",
            dollars.message
        );
        assert_eq!(whole_units("jpy", &amounts(&[60, 45, 60])), None);
        assert_eq!(
            whole_units("kwd", &amounts(&[9_999, 9_000])).unwrap().rows,
            [0, 1]
        );
    }

    #[test]
    fn the_minimum_is_the_currencys_and_unknown_currencies_have_none() {
        assert_eq!(below_minimum("gbp", &amounts(&[29, 30])).unwrap().rows, [0]);
        assert_eq!(below_minimum("usd", &amounts(&[50])), None);
        assert_eq!(below_minimum("xyz", &amounts(&[1])), None);
    }
}
