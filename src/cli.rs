//! The `paylink` command line. Exit codes: 0 success, 2 bad usage or configuration (with a
//! message naming the setting), 1 any other failure.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::announce::announce;
use crate::bad_input::BadInput;
use crate::config::production::Role;
use crate::config::{ConfigError, Settings};
#[cfg(feature = "demo")]
use crate::demo::args::{DemoArgs, FakeStripeArgs};
use crate::startup::{Application, Engine};
#[cfg(not(feature = "demo"))]
use crate::without_demo::{DemoArgs, FakeStripeArgs};
use paylink_core::WorkerPool;

#[derive(Debug, Parser)]
#[command(
    name = "paylink",
    version,
    about = "Never-expiring Stripe Payment Links, minted in bulk"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The intake (HTTP): orders, pay URLs, health.
    Serve,
    /// The workers: mint links from the queue.
    Work,
    /// Intake and workers in one process.
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Create one order per CSV row (header: external_ref, payer_email, payer_name, product_id
    /// or product, amount_cents[, currency]) and show progress while running workers mint their
    /// links. Shows a preview first (totals per currency, suspicious amounts) and, at a
    /// terminal, asks before creating.
    Blast {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The blast's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// Write every order's payer, amount, state and pay URL here as CSV.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Return once the orders are stored, without waiting for the links.
        #[arg(long)]
        no_wait: bool,
        /// Show the preview and create nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create without asking, even at a terminal.
        #[arg(long)]
        yes: bool,
        /// Mail every payer their pay link once it is active (the workers send it; needs
        /// PAYLINK__EMAIL__SMTP_URL, docs/email.md).
        #[arg(long)]
        send_email: bool,
        /// With --send-email: the organiser's own text above the mail's button.
        #[arg(long, requires = "send_email")]
        email_message: Option<String>,
    },
    /// Check the deployment before a blast: database, queue, the public base URL, the Stripe
    /// key, the webhook endpoint at Stripe, the rate limit. One line per check; exit 0 only
    /// when none failed (docs/stripe.md, "Before your first blast").
    Doctor {
        /// Also create one Payment Link per category exactly as the mint would (test keys
        /// only), read each back from Stripe, compare, and switch them off.
        #[arg(long)]
        create_test_link: bool,
        /// With --create-test-link: leave the links on, to pay one with a test card.
        #[arg(long, requires = "create_test_link")]
        keep_test_links: bool,
        /// Also send one pay-link mail with sample content to ADDRESS, as the workers would.
        #[arg(long, value_name = "ADDRESS")]
        send_test_email: Option<String>,
    },
    /// Everything in one process with nothing else running: the Stripe stand-in, the intake and
    /// the workers on a temporary SQLite file; a blast minted, a third of it paid, every
    /// promise checked. Exits 0 only if every promise held.
    #[command(hide = !cfg!(feature = "demo"))]
    Demo(DemoArgs),
    /// Print every setting: its environment variable, key, type, default and meaning, as a
    /// Markdown table (docs/settings.md is this output).
    Settings,
    /// The Stripe stand-in: Stripe's wire format, in memory.
    #[command(hide = !cfg!(feature = "demo"))]
    FakeStripe(FakeStripeArgs),
}

/// Runs the parsed command and maps failures to exit codes.
pub async fn main(cli: Cli) -> std::process::ExitCode {
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<BadInput>().is_some()
            {
                2
            } else {
                1
            };
            eprintln!("paylink: {e:#}");
            std::process::ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::FakeStripe(args) => return args.run().await,
        Command::Demo(args) => return args.run().await,
        Command::Settings => {
            print!("{}", crate::config::catalog::render());
            return Ok(());
        }
        _ => {}
    }
    let settings = Settings::load()?;
    crate::telemetry::init(&settings.log.format, &settings.log.level);
    match cli.command {
        Command::Migrate => {
            let mut settings = settings;
            settings.database.migrate_on_start = false;
            // A mistyped path or a run from another folder makes a new SQLite file: say so,
            // rather than let "applied" read as if the deployment's database was upgraded.
            let new_file = crate::startup::missing_sqlite_file(&settings.database.url).is_some();
            let db = crate::startup::connect_database(&settings).await?;
            let applied = paylink_core::store::schema_lock::migrate(&db).await?;
            let database = crate::startup::describe_database(&settings.database.url);
            announce(&match applied {
                0 => format!("migrations applied to {database} (none were pending)"),
                n => format!("migrations applied to {database} ({n} new)"),
            });
            if new_file {
                announce("that database is a new, empty SQLite file created just now");
            }
            Ok(())
        }
        Command::Blast {
            file,
            name,
            out,
            no_wait,
            dry_run,
            yes,
            send_email,
            email_message,
        } => {
            let options = crate::blast_cli::Options {
                name,
                out,
                no_wait,
                dry_run,
                yes,
                mail: send_email.then_some(crate::blast_cli::Mail {
                    message: email_message,
                }),
            };
            crate::blast_cli::run(&settings, file, options).await
        }
        Command::Doctor {
            create_test_link,
            keep_test_links,
            send_test_email,
        } => {
            let keep = if keep_test_links {
                crate::doctor::Keep::KeepOn
            } else {
                crate::doctor::Keep::SwitchOff
            };
            crate::doctor::run(
                &settings,
                create_test_link,
                keep,
                send_test_email.as_deref(),
            )
            .await
        }
        Command::Serve => serve(&settings, false).await,
        Command::Run => serve(&settings, true).await,
        Command::Work => {
            settings.check_production(Role::Workers)?;
            let engine = Engine::connect(&settings).await?;
            check_stripe_key(&settings, &engine);
            if let Some(addr) = settings
                .workers
                .metrics_addr
                .as_deref()
                .filter(|a| !a.is_empty())
            {
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot serve metrics on PAYLINK__WORKERS__METRICS_ADDR={addr}")
                })?;
                announce(&format!(
                    "paylink worker metrics on http://{}/metrics",
                    listener.local_addr()?
                ));
                let router =
                    crate::routes::metrics::worker_router(engine.db.clone(), engine.queue.clone());
                let limits = settings.connection_limits();
                tokio::spawn(async move {
                    let never = std::future::pending();
                    if let Err(e) = crate::http_server::serve(listener, router, limits, never).await
                    {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                });
            }
            announce("paylink workers started");
            let mut workers =
                WorkerPool::start(engine.jobs, engine.queue, settings.worker_settings());
            tokio::select! {
                ended = workers.finished() => return ended,
                () = shutdown_signal() => {}
            }
            finish_within(workers, settings.workers.shutdown_grace_secs).await
        }
        Command::FakeStripe(_) | Command::Demo(_) | Command::Settings => {
            unreachable!("handled above")
        }
    }
}

/// The intake, with the workers in the same process when `with_workers`.
async fn serve(settings: &Settings, with_workers: bool) -> anyhow::Result<()> {
    // Fail on missing or unsafe settings before connecting to anything.
    settings.admin_token()?;
    settings.check_production(Role::Intake)?;
    settings.stripe_settings()?;
    if settings.stripe.webhook_secrets.is_empty() {
        tracing::warn!(
            "no webhook secret is set (PAYLINK__STRIPE__WEBHOOK_SECRETS): /webhooks/stripe \
             answers 503 to every Stripe event, and payments are recorded only when a payer \
             reaches the thank-you page or the sweep of Stripe's events finds them (every \
             {} s)",
            settings.reconcile.stripe_sweep_secs
        );
    }
    if let Some(why) = crate::routes::client_ip::unconfigured_proxy(settings) {
        tracing::warn!("{why}");
    }
    let engine = Engine::connect(settings).await?;
    check_stripe_key(settings, &engine);
    let app = Application::build(settings, &engine).await?;
    announce(&format!(
        "paylink intake listening on http://{} (dashboard: {}/admin)",
        app.local_addr()?,
        settings.public_base_url.trim_end_matches('/')
    ));
    let (stop, stopped) = stop_channel();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let workers = with_workers.then(|| {
        WorkerPool::start(
            engine.jobs.clone(),
            engine.queue.clone(),
            settings.worker_settings(),
        )
    });
    app.run_until_stopped(wait(stopped)).await?;
    match workers {
        Some(workers) => finish_within(workers, settings.workers.shutdown_grace_secs).await,
        None => Ok(()),
    }
}

/// Tries the Stripe key in the background and says what Stripe said; a refused key (or a test
/// key in production) pauses link-making until a key is taken, and the intake keeps taking
/// orders meanwhile (`paylink_core::stripe_key`).
fn check_stripe_key(settings: &Settings, engine: &Engine) {
    use paylink_core::stripe_key::{KeyCheck, check_at_start};
    let wrong_mode = (settings.is_production()
        && settings.stripe.secret_key.is_some()
        && !settings.live_stripe_key())
    .then(|| {
        "PAYLINK__STRIPE__SECRET_KEY is a test-mode key but PAYLINK_ENV=production: payers \
         could pay only with test cards"
            .to_owned()
    });
    let mode = if settings.live_stripe_key() {
        "live"
    } else {
        "test"
    };
    let jobs = engine.jobs.clone();
    tokio::spawn(async move {
        match check_at_start(&jobs, wrong_mode).await {
            // A read: a restricted key without Payment Links write is found by the first mint.
            KeyCheck::Accepted => {
                tracing::info!("Stripe accepted the API key for a read ({mode} mode)")
            }
            KeyCheck::Refused(refusal) => tracing::warn!(
                status = refusal.status,
                "Stripe refused the API key: {}. Link-making is paused; orders are taken and \
                 wait. {}",
                refusal.message,
                refusal.fix()
            ),
            KeyCheck::Unknown(why) => {
                tracing::warn!("could not try the Stripe API key at start: {why}")
            }
        }
    });
}

/// Stops the workers, letting in-flight jobs finish for at most `grace_secs`. Jobs still
/// running then are not lost (see [`WorkerPool::shutdown`]); `main` leaves without waiting for
/// them.
async fn finish_within(workers: WorkerPool, grace_secs: u64) -> anyhow::Result<()> {
    workers
        .shutdown(std::time::Duration::from_secs(grace_secs))
        .await
        .map(|_finished_in_time| ())
}

fn stop_channel() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
