//! Mail benchmark: the Stripe stand-in (no limit), the mail sink (mail-sink/, real SMTP on
//! loopback, in this process), N `paylink work` processes and a blast of K orders whose payers
//! are mailed, on PostgreSQL and Redis. Prints one parseable line: mails per second reaching
//! the sink (first mail to last), the whole run's seconds, peak worker memory, and how many
//! payers got more or less than one mail.
//!
//!   cargo bench --bench mail -- [--orders 5000] [--workers 2] [--mail-rate 1000]
//!
//! `--mail-rate` is `email.rate_per_sec` for the fleet (the shipped 10/s would take 500 s for
//! 5,000 payers and measure only the limit).

#[expect(dead_code, reason = "the percentiles are the other benchmarks'")]
mod common;
#[path = "common/processes.rs"]
mod processes;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paylink_core::domain::{OrderInput, Payer};

use common::{Scratch, arg};
use processes::{Killed, peak_mb, stand_in};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders = arg("--orders", 5000) as usize;
    let workers = arg("--workers", 2);
    let mail_rate = arg("--mail-rate", 1000);
    let bin = env!("CARGO_BIN_EXE_paylink");
    let scratch = Scratch::create().await?;
    let (_fake, fake_url) = stand_in(bin, 0)?;
    let sink = mail_sink::MailSink::start(mail_sink::SinkConfig::default()).await?;

    let settings = paylink::config::Settings::from_figment(
        paylink::config::Settings::figment_for("production")
            .merge(("database.url", scratch.db_url.clone()))
            .merge(("stripe.api_base", fake_url.clone())),
    )?;
    let db = paylink::startup::connect_database(&settings).await?;
    let product =
        paylink_core::store::product::insert(&db, "Monthly dues", "monthly", "usd").await?;
    let rows: Vec<OrderInput> = (0..orders)
        .map(|i| OrderInput {
            external_ref: format!("mail-{i}"),
            product_id: product.id.clone(),
            amount_cents: 4500,
            currency: None,
            payer: Payer {
                email: format!("payer{i}@example.com"),
                name: format!("Payer {i}"),
            },
        })
        .collect();
    let blast = paylink_core::blasts::create(&db, "bench", rows).await?;
    paylink_core::store::email::request_for_blast(&db, &blast.id, Some("Dues are due.")).await?;

    let started = Instant::now();
    let pool: Vec<Killed> = (0..workers)
        .map(|_| {
            Command::new(bin)
                .arg("work")
                .env("PAYLINK_ENV", "staging")
                .env("PAYLINK__DATABASE__URL", &scratch.db_url)
                .env("PAYLINK__QUEUE__URL", &scratch.redis_url)
                .env("PAYLINK__QUEUE__NAMESPACE", &scratch.name)
                .env("PAYLINK__STRIPE__API_BASE", &fake_url)
                .env("PAYLINK__STRIPE__RATE_LIMIT_PER_SEC", "5000")
                .env("PAYLINK__EMAIL__SMTP_URL", sink.smtp_url())
                .env(
                    "PAYLINK__EMAIL__FROM",
                    "Riverside League <billing@riverside.example.org>",
                )
                .env("PAYLINK__EMAIL__RATE_PER_SEC", mail_rate.to_string())
                .env("PAYLINK__LOG__LEVEL", "error")
                .stdout(Stdio::null())
                .spawn()
                .map(Killed)
        })
        .collect::<Result<_, _>>()?;
    let mut peak = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.count() < orders && Instant::now() < deadline {
        for w in &pool {
            peak = peak.max(peak_mb(w.0.id()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for w in &pool {
        peak = peak.max(peak_mb(w.0.id()));
    }
    let mails = sink.messages();
    let mut at: Vec<_> = mails.iter().map(|m| m.received_at).collect();
    at.sort_unstable();
    let spread = match (at.first(), at.last()) {
        (Some(first), Some(last)) => (*last - *first).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let mut per_payer: HashMap<&str, usize> = HashMap::new();
    for mail in &mails {
        for to in &mail.rcpt_to {
            *per_payer.entry(to.as_str()).or_default() += 1;
        }
    }
    println!(
        "bench=mail cpus={} orders={orders} workers={workers} mail_rate={mail_rate} seconds={elapsed:.1} mails={} mails_per_s={:.1} peak_worker_mb={peak:.1} payers_mailed={} payers_mailed_twice={} payers_not_mailed={}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        mails.len(),
        if spread > 0.0 {
            (mails.len().saturating_sub(1)) as f64 / spread
        } else {
            0.0
        },
        per_payer.len(),
        per_payer.values().filter(|n| **n > 1).count(),
        orders.saturating_sub(per_payer.len()),
    );
    drop(pool);
    drop(db);
    scratch.remove().await
}
