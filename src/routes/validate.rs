//! Field checks shared by the order and product routes. Each returns a 422 naming the field.

use super::ApiError;

/// Stripe's largest `unit_amount` (eight digits of minor units).
pub const MAX_AMOUNT_CENTS: i64 = 99_999_999;

pub fn currency(field: &str, value: &str) -> Result<String, ApiError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ApiError::validation(
            field,
            format!("{value:?} is not a three-letter ISO currency code"),
        ))
    }
}

pub fn amount(field: &str, value: i64) -> Result<i64, ApiError> {
    if value <= 0 {
        return Err(ApiError::validation(
            field,
            format!("must be greater than 0, got {value}"),
        ));
    }
    if value > MAX_AMOUNT_CENTS {
        return Err(ApiError::validation(
            field,
            format!("must be at most {MAX_AMOUNT_CENTS} (Stripe's limit), got {value}"),
        ));
    }
    Ok(value)
}

/// A trimmed, non-empty string of at most `max` characters without control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// The shape of an email address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
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
        Ok(value)
    } else {
        Err(ApiError::validation(
            field,
            format!("{value:?} is not an email address"),
        ))
    }
}
