//! A build without the `demo` feature (`cargo build --release --no-default-features`) has no
//! Stripe stand-in and no demo. Their commands stay, hidden from `--help`, to say how to get
//! them rather than leave the user with "unrecognized subcommand".

use crate::bad_input::BadInput;

/// Whatever was given after `paylink demo`: it is not read.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    ignored: Vec<String>,
}

/// Whatever was given after `paylink fake-stripe`: it is not read.
#[derive(Debug, clap::Args)]
pub struct FakeStripeArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    ignored: Vec<String>,
}

impl DemoArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        Err(missing("demo"))
    }
}

impl FakeStripeArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        Err(missing("fake-stripe"))
    }
}

/// Exit 2, saying how to get a binary that has the command.
fn missing(command: &str) -> anyhow::Error {
    BadInput(format!(
        "this paylink was built without the `demo` feature, so it has no `{command}` command \
         (the Stripe stand-in and the demo are left out of operators' builds). Build with the \
         default features to get it: `cargo run -- {command}` from the repository, or \
         `cargo build --release` (or `cargo install --path .`) without --no-default-features"
    ))
    .into()
}
