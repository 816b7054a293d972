//! Validated values: an amount Stripe accepts, a currency code, an email address, and the
//! checks on free text. Each `parse` takes the field's name so its error can say which field.

use serde::Serialize;

use super::FieldError;

/// Stripe's largest `unit_amount` (eight digits of minor units).
pub const MAX_AMOUNT_CENTS: i64 = 99_999_999;

/// An amount in minor units: more than 0, at most [`MAX_AMOUNT_CENTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AmountCents(i64);

impl AmountCents {
    pub fn parse(field: &str, value: i64) -> Result<Self, FieldError> {
        if value <= 0 {
            return Err(FieldError::new(
                field,
                format!("must be greater than 0, got {value}"),
            ));
        }
        if value > MAX_AMOUNT_CENTS {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_AMOUNT_CENTS} (Stripe's limit), got {value}"),
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A three-letter ISO currency code, lower case as Stripe writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err(FieldError::new(
                field,
                format!("{value:?} is not a three-letter ISO currency code"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The shape of an email address: one `@`, a non-empty local part, a dotted domain, no spaces,
/// at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = text(field, value, 254)?;
        let valid = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.contains(char::is_whitespace)
            }
            None => false,
        };
        if valid {
            Ok(Self(value))
        } else {
            Err(FieldError::new(
                field,
                format!("{value:?} is not an email address"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A trimmed, non-empty string of at most `max` characters without control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_positive_and_within_stripes_limit() {
        assert_eq!(AmountCents::parse("a", 1).map(AmountCents::get), Ok(1));
        assert_eq!(
            AmountCents::parse("a", 0).unwrap_err().message,
            "a: must be greater than 0, got 0"
        );
        assert!(AmountCents::parse("a", -5).is_err());
        assert!(AmountCents::parse("a", MAX_AMOUNT_CENTS).is_ok());
        assert!(AmountCents::parse("a", MAX_AMOUNT_CENTS + 1).is_err());
    }

    #[test]
    fn currencies_are_three_letters_in_lower_case() {
        assert_eq!(Currency::parse("c", "USD").unwrap().as_str(), "usd");
        for bad in ["us", "usdd", "u$d", ""] {
            assert!(Currency::parse("c", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_have_one_at_and_a_dotted_domain() {
        assert_eq!(
            Email::parse("e", " pat@example.org ").unwrap().as_str(),
            "pat@example.org"
        );
        for bad in [
            "pat",
            "@example.org",
            "pat@example",
            "pat@@x.org",
            "p t@x.org",
            "pat@x.org.",
        ] {
            let error = Email::parse("payer.email", bad).unwrap_err();
            assert_eq!(error.field, "payer.email", "{bad:?}");
        }
    }

    #[test]
    fn text_is_trimmed_bounded_and_printable() {
        assert_eq!(text("t", "  a  ", 3).unwrap(), "a");
        assert!(text("t", "   ", 3).is_err());
        assert!(text("t", "abcd", 3).is_err());
        assert!(text("t", "a\u{7}", 3).is_err());
    }
}
