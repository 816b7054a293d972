//! The shipped defaults (`config/default.toml`), compiled into the binary: what the loader
//! starts from and what the check of `PAYLINK__` variables knows as settings.

use figment::Figment;
use figment::providers::{Format, Toml};

/// The shipped defaults, compiled in.
const BUILT_IN_DEFAULTS: &str = include_str!("../../config/default.toml");

/// Only the defaults compiled into the binary: no files, no environment (the demo).
pub fn built_in() -> Figment {
    Figment::new().merge(Toml::string(BUILT_IN_DEFAULTS))
}
