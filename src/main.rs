use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    paylink::cli::main(paylink::cli::Cli::parse()).await
}
