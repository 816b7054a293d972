use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("paylink: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(paylink::cli::main(paylink::cli::Cli::parse()));
    // A worker pool stopped past its grace period leaves its jobs running on a blocking thread;
    // they are not lost (see `WorkerPool::shutdown`), so the process does not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
