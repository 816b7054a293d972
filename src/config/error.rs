//! The error every setting's check returns, below the loader and the checks that use it.

/// A setting that is missing or wrong; `paylink` exits 2 with this message.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);
