//! `paylink demo`: the whole job in one process with nothing else running. The Stripe stand-in,
//! the intake and the workers start on the embedded default (a SQLite file in a temporary
//! directory, the embedded queue); a product per category and a blast of orders go in through
//! the HTTP API, after the demo registered a receiver of its own for paylink's webhooks
//! (`receiver`); the links are minted at Stripe's pace with a progress bar; a third of the
//! payers pay on the stand-in's hosted page, which sends signed webhooks (`--drop-webhooks`
//! loses a share of them), and half of those payers come back to paylink's return page; then
//! every promise is checked against the stand-in's own records and the receiver's, and a
//! summary is printed, with how each payment was learned. Exit 0 only if every promise held.

pub mod args;
mod promises;
mod receiver;
mod scenario;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::config::{ConfigError, Settings};
use crate::fake_stripe::{FakeConfig, FakeStripeServer};
use crate::startup::{Application, Engine};
use scenario::{Observed, Scenario};

/// What the demo runs.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Orders in the blast.
    pub orders: usize,
    /// Share of Stripe requests the stand-in answers 500 (paylink must still mint each once).
    pub stripe_failure_rate: f64,
    /// Share of webhook deliveries the stand-in never makes.
    pub drop_webhooks: f64,
    /// Keep serving after the summary, until Ctrl-C, to look around.
    pub keep: bool,
}

/// Runs the demo; an error names what failed or which promises broke.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    if !(1..=paylink_core::blasts::MAX_ORDERS).contains(&options.orders) {
        return Err(ConfigError(format!(
            "--orders must be between 1 and {}",
            paylink_core::blasts::MAX_ORDERS
        ))
        .into());
    }
    if !(0.0..1.0).contains(&options.stripe_failure_rate) {
        return Err(
            ConfigError("--stripe-failure-rate must be at least 0 and below 1".into()).into(),
        );
    }
    if !(0.0..=1.0).contains(&options.drop_webhooks) {
        return Err(ConfigError("--drop-webhooks must be between 0 and 1".into()).into());
    }
    let started = Instant::now();
    let dir = TempDir::create()?;
    let demo = Demo::start(&dir.0, &options).await?;
    println!(
        "paylink demo: intake at {}, Stripe stand-in at {}, database {}",
        demo.base_url,
        demo.scenario.fake_url,
        dir.0.join("paylink.db").display()
    );
    let observed = demo.scenario.play(options.orders, started).await;
    let outcome = match &observed {
        Ok(observed) => report(observed, &demo.settings, started),
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    if options.keep {
        demo.scenario.print_where_to_look(observed.as_ref().ok());
        println!("serving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    } else {
        let paylink = typed_command();
        println!(
            "to look around (the dashboard, a pay URL to click), run the demo again and keep it \
             up until Ctrl-C:"
        );
        println!("  {paylink} demo --keep");
    }
    demo.stop().await;
    outcome
}

/// Prints the summary and the promises; fails when one broke.
fn report(observed: &Observed, settings: &Settings, started: Instant) -> anyhow::Result<()> {
    let checks = promises::judge(&observed.facts);
    println!();
    println!("{}", observed.summary(started.elapsed()));
    println!(
        "  (the demo reads Stripe's events every {DEMO_EVENT_SWEEP_SECS} s and mails {DEMO_MAIL_RATE}/s; paylink's defaults are every 300 s and 10/s)"
    );
    println!(
        "checks (Stripe limit {}/s in paylink, 25/s per endpoint at the stand-in):",
        settings.stripe.rate_limit_per_sec
    );
    for check in &checks {
        if check.held {
            println!("  ok      {}", check.promise);
        } else {
            println!("  FAILED  {}: {}", check.promise, check.detail);
        }
    }
    let broken = checks.iter().filter(|c| !c.held).count();
    anyhow::ensure!(broken == 0, "{broken} check(s) failed");
    println!("every check passed");
    Ok(())
}

/// This program as the person who started it can type it again: `./target/release/paylink`
/// after `cargo run --release`, `paylink` when it was found on the `PATH` (`cargo install`),
/// else its full path.
fn typed_command() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "paylink".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            dir.join("paylink")
                .canonicalize()
                .is_ok_and(|found| Some(found) == exe.canonicalize().ok())
        })
    });
    if on_path {
        return "paylink".to_owned();
    }
    let here = std::env::current_dir()
        .ok()
        .and_then(|dir| dir.canonicalize().ok());
    match here.and_then(|dir| {
        exe.strip_prefix(&dir)
            .ok()
            .map(std::path::Path::to_path_buf)
    }) {
        Some(relative) => format!("./{}", relative.display()),
        None => exe.display().to_string(),
    }
}

/// How often the demo's workers read Stripe's events (the shipped default is 300 s).
const DEMO_EVENT_SWEEP_SECS: u64 = 3;

/// The demo's sender.
const DEMO_SENDER: &str = "Riverside Youth League <billing@riverside.example.org>";

/// Mails a second in the demo (paylink's default is 10): 300 payers in 6 s.
const DEMO_MAIL_RATE: u32 = 50;

/// How long the demo's workers may take to finish their jobs once it is over.
const DEMO_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The stand-in, intake and workers of one demo run.
struct Demo {
    base_url: String,
    settings: Settings,
    scenario: Scenario,
    stop: watch::Sender<bool>,
    intake: tokio::task::JoinHandle<anyhow::Result<()>>,
    workers: paylink_core::WorkerPool,
    /// Serves until the demo ends.
    _mail: mail_sink::MailSink,
}

impl Demo {
    async fn start(dir: &std::path::Path, options: &DemoOptions) -> anyhow::Result<Self> {
        let secret = |prefix: &str| format!("{prefix}{}", uuid::Uuid::new_v4().simple());
        let (admin_token, webhook_secret) = (secret("demo-"), secret("whsec_demo_"));
        // The intake's port is chosen first so that pay URLs and the webhook endpoint can
        // name it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("no free local port for the intake")?
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let fake = FakeStripeServer::bind(
            "127.0.0.1:0",
            FakeConfig {
                fail_rate: options.stripe_failure_rate,
                drop_webhook_rate: options.drop_webhooks,
                webhook_url: Some(format!("{base_url}/webhooks/stripe")),
                webhook_secret: Some(webhook_secret.clone()),
                ..FakeConfig::default()
            },
        )
        .await?;
        let fake_url = fake.base_url();
        tokio::spawn(fake.run());
        // The payers' inboxes: a mail server of the project's own, on loopback (mail-sink/).
        let mail = mail_sink::MailSink::start(mail_sink::SinkConfig::default()).await?;
        let figment = Settings::built_in()
            .merge(("http.addr", format!("127.0.0.1:{port}")))
            .merge(("public_base_url", base_url.clone()))
            .merge((
                "database.url",
                format!("sqlite://{}", dir.join("paylink.db").display()),
            ))
            .merge(("stripe.api_base", fake_url.clone()))
            .merge(("stripe.secret_key", "sk_test_paylink_demo"))
            .merge(("stripe.webhook_secrets", webhook_secret))
            .merge(("admin.token", admin_token.clone()))
            // The demo's receiver of paylink's own webhooks listens on 127.0.0.1.
            .merge(("outbound.allow_private_networks", true))
            // The demo lasts seconds: it reads Stripe's events every few seconds instead of
            // every 300, so that payments whose webhook never came are found while it runs.
            .merge(("reconcile.stripe_sweep_secs", DEMO_EVENT_SWEEP_SECS))
            .merge(("email.smtp_url", mail.smtp_url()))
            .merge(("email.from", DEMO_SENDER))
            .merge(("email.rate_per_sec", DEMO_MAIL_RATE));
        let settings = Settings::from_figment(figment)?;
        let engine = Engine::connect(&settings).await?;
        let app = Application::build(&settings, &engine).await?;
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let intake = tokio::spawn(app.run_until_stopped(until_stopped(stopped)));
        let workers = paylink_core::WorkerPool::start(
            engine.jobs.clone(),
            engine.queue.clone(),
            settings.worker_settings(),
        );
        let scenario = Scenario {
            base_url: base_url.clone(),
            stripe: crate::fake_stripe::FakeStripeClient::new(&fake_url),
            fake_url,
            admin_token,
            db: engine.db.clone(),
            closing_categories: Arc::new(settings.policy().deactivate_on_paid_categories),
            receiver: receiver::Receiver::start().await?,
            mail: mail.control(),
            http: reqwest::Client::new(),
            http_no_redirect: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("cannot build an HTTP client")?,
        };
        Ok(Self {
            base_url,
            settings,
            scenario,
            stop,
            intake,
            workers,
            _mail: mail,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        match self.intake.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("paylink demo: the intake stopped with an error: {e:#}"),
            Err(e) => eprintln!("paylink demo: the intake panicked: {e}"),
        }
        if let Err(e) = self.workers.shutdown(DEMO_SHUTDOWN_GRACE).await {
            eprintln!("paylink demo: the workers stopped with an error: {e:#}");
        }
    }
}

/// A directory for the demo's database, removed when the demo ends.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("paylink-demo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
