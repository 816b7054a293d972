//! A value that failed its check, with the field it came from.

/// Names the field (as the caller spelled it: `payer.email`, `amount_cents`) and the problem.
/// The message starts with the field, so it reads whole on its own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, problem: impl std::fmt::Display) -> Self {
        Self {
            field: field.to_owned(),
            message: format!("{field}: {problem}"),
        }
    }
}
