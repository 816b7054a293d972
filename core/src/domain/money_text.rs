//! Amounts as people read them.

/// `$45.00`, `€1,234.50`, `£3.00`, or `45.00 CHF` for other currencies (`currency` in any
/// case).
pub fn format_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let units = (cents.unsigned_abs() / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let amount = format!("{grouped}.{:02}", cents.unsigned_abs() % 100);
    match currency.to_lowercase().as_str() {
        "usd" => format!("{sign}${amount}"),
        "eur" => format!("{sign}€{amount}"),
        "gbp" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {}", other.to_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::format_money;

    #[test]
    fn amounts_read_as_people_write_them() {
        for (cents, currency, text) in [
            (4500, "usd", "$45.00"),
            (123_450, "EUR", "€1,234.50"),
            (5, "gbp", "£0.05"),
            (100_000_000, "usd", "$1,000,000.00"),
            (4500, "chf", "45.00 CHF"),
            (-250, "usd", "-$2.50"),
            (i64::MIN, "usd", "-$92,233,720,368,547,758.08"),
        ] {
            assert_eq!(format_money(cents, currency), text, "{cents} {currency}");
        }
    }
}
