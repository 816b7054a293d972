//! The error for input a command cannot use, below the commands that report it.

/// Input the user gave a command that it cannot use (a blast's file missing or invalid):
/// exit 2 like a bad setting, with a message about the input rather than the configuration.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
