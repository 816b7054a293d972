//! Amounts as a payer reads them: `$45.00`, `€45.00`, `£45.00`, `¥4500`, else `45.00 CHF`.
//! Stripe counts in the currency's smallest unit, which is not always a hundredth: yen have no
//! minor unit and dinars have three decimals, so 4500 JPY is `¥4500`, not `¥45.00`.

/// Currencies Stripe takes in whole units (its "zero-decimal currencies").
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies Stripe takes in thousandths.
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// `amount_cents` (Stripe's smallest unit of `currency`) with the currency's symbol for
/// dollars, euros, pounds and yen, or its upper-case code after the number for the rest; the
/// thousands are grouped with commas (`$1,234.50`). Any input gives an answer: an unknown code
/// is shown in upper case as given, a missing one leaves the number bare.
pub fn format_money(amount_cents: i64, currency: &str) -> String {
    let code = currency.trim().to_ascii_lowercase();
    let (sign, whole, fraction) = units(amount_cents, &code);
    let number = format!("{}{fraction}", group_thousands(whole));
    match code.as_str() {
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        "jpy" => format!("{sign}¥{number}"),
        "" => format!("{sign}{number}"),
        _ => format!("{sign}{number} {}", code.to_ascii_uppercase()),
    }
}

/// `amount_cents` in `currency`'s units as a number a spreadsheet reads: `45.00`, `4500` for
/// yen, `1.250` for dinars; no symbol and no grouping (the exports' `amount` column).
pub fn plain_amount(amount_cents: i64, currency: &str) -> String {
    let (sign, whole, fraction) = units(amount_cents, currency);
    format!("{sign}{whole}{fraction}")
}

/// The sign, the whole units and the decimals (with their point; none for zero-decimal
/// currencies) of `amount_cents` in `currency`.
fn units(amount_cents: i64, currency: &str) -> (&'static str, u64, String) {
    let decimals = minor_digits(currency);
    let sign = if amount_cents < 0 { "-" } else { "" };
    let magnitude = amount_cents.unsigned_abs();
    let unit = 10_u64.pow(decimals);
    let fraction = if decimals == 0 {
        String::new()
    } else {
        format!(".{:0width$}", magnitude % unit, width = decimals as usize)
    };
    (sign, magnitude / unit, fraction)
}

/// How many decimals `currency`'s smallest unit has at Stripe: 0 (yen), 3 (dinars) or 2.
pub fn minor_digits(currency: &str) -> u32 {
    let code = currency.trim().to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&code.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// The smallest charge Stripe accepts in `currency`, in its smallest unit, for the currencies
/// whose minimum Stripe publishes (its "minimum and maximum charge amounts"); `None` for the
/// rest. A blast's preview warns about amounts below it (see `crate::blasts::preview`), since
/// Stripe refuses such links. Every minimum lives in this one table.
pub fn minimum_charge(currency: &str) -> Option<i64> {
    const MINIMUMS: [(&str, i64); 24] = [
        ("usd", 50),
        ("aed", 200),
        ("aud", 50),
        ("bgn", 100),
        ("brl", 50),
        ("cad", 50),
        ("chf", 50),
        ("czk", 1500),
        ("dkk", 250),
        ("eur", 50),
        ("gbp", 30),
        ("hkd", 400),
        ("huf", 17500),
        ("inr", 50),
        ("jpy", 50),
        ("mxn", 1000),
        ("myr", 200),
        ("nok", 300),
        ("nzd", 50),
        ("pln", 200),
        ("ron", 200),
        ("sek", 300),
        ("sgd", 50),
        ("thb", 1000),
    ];
    let code = currency.trim().to_ascii_lowercase();
    MINIMUMS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, minimum)| *minimum)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_amount_is_in_the_currencys_units_without_symbol_or_grouping() {
        assert_eq!(plain_amount(4500, "usd"), "45.00");
        assert_eq!(plain_amount(123_456_789, "EUR"), "1234567.89");
        assert_eq!(plain_amount(4500, "jpy"), "4500");
        assert_eq!(plain_amount(1250, "kwd"), "1.250");
        assert_eq!(plain_amount(-5, "usd"), "-0.05");
    }

    #[test]
    fn dollars_euros_and_pounds_get_their_symbol() {
        assert_eq!(format_money(4500, "usd"), "$45.00");
        assert_eq!(format_money(4505, "USD"), "$45.05");
        assert_eq!(format_money(4500, "eur"), "€45.00");
        assert_eq!(format_money(99, "gbp"), "£0.99");
        assert_eq!(format_money(123_456_789, "usd"), "$1,234,567.89");
    }

    #[test]
    fn other_currencies_are_named_after_the_number() {
        assert_eq!(format_money(4500, "cad"), "45.00 CAD");
        assert_eq!(format_money(1, "chf"), "0.01 CHF");
    }

    #[test]
    fn the_minor_unit_is_the_currencys_own() {
        assert_eq!(format_money(4500, "jpy"), "¥4,500");
        assert_eq!(format_money(50_000, "krw"), "50,000 KRW");
        assert_eq!(format_money(12_345, "kwd"), "12.345 KWD");
    }

    #[test]
    fn the_minimum_charge_is_stripes_per_currency() {
        assert_eq!(minimum_charge("usd"), Some(50));
        assert_eq!(minimum_charge(" GBP "), Some(30));
        assert_eq!(minimum_charge("jpy"), Some(50));
        assert_eq!(minimum_charge("xyz"), None);
    }

    #[test]
    fn no_amount_or_code_makes_it_panic() {
        assert_eq!(format_money(i64::MIN, "usd"), "-$92,233,720,368,547,758.08");
        assert_eq!(format_money(-150, "eur"), "-€1.50");
        assert_eq!(format_money(0, ""), "0.00");
        assert_eq!(
            format_money(i64::MAX, "xyz"),
            "92,233,720,368,547,758.07 XYZ"
        );
    }
}
