//! Outbound webhook benchmark: the Stripe stand-in (no rate limit), `paylink run` (intake and
//! workers in one process) on PostgreSQL and Redis, and a receiver in the benchmark answering
//! 204 at once, registered as an endpoint for every event type before a blast of N orders goes
//! in through `POST /v1/blasts`. Prints one parseable line: `order.link_ready` deliveries per
//! second at the receiver (from the first to the last), and p50/p99 lag from each event's
//! `timestamp` (written with the minted link) to its arrival.
//!
//!   cargo bench --bench outbound -- [--orders 2000] [--paylink-rate 1000]
//!
//! Minting runs at up to `--paylink-rate` links/s; `minted_per_sec` is how fast it went (from
//! the events' own timestamps), so the lag is the dispatcher's backlog: a p99 that grows with
//! `--orders`, and `events_per_sec` below `minted_per_sec`, mean delivery is slower than
//! minting. `all_deliveries` counts every delivery (`blast.completed` too); `distinct` the
//! `order.link_ready` events by `webhook-id` (below `events` only if one was sent twice).

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{Scratch, arg, percentile};
use receiver::Receiver;

const ADMIN_TOKEN: &str = "bench-outbound-admin-token";

/// How long the benchmark waits without a new delivery before it gives up.
const STALL: Duration = Duration::from_secs(60);

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The address the process announces on its first line containing "listening on".
fn listening_on(child: &mut Child) -> anyhow::Result<String> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("stdout not piped"))?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("the process ended before it listened"))??;
        if line.contains("listening on") {
            break line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(url)
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> anyhow::Result<Value> {
    let response = client
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(body)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "POST {url} answered {status}: {body}");
    Ok(body)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders = arg("--orders", 2000);
    let paylink_rate = arg("--paylink-rate", 1000);
    let bin = env!("CARGO_BIN_EXE_paylink");
    let scratch = Scratch::create().await?;

    let mut fake = Killed(
        Command::new(bin)
            .args([
                "fake-stripe",
                "--addr",
                "127.0.0.1:0",
                "--rate-limit-per-sec=0",
                "--account-rate-limit-per-sec=0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let fake_url = listening_on(&mut fake.0)?;

    let receiver = Receiver::start().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut paylink = Killed(
        Command::new(bin)
            .arg("run")
            // Production refuses a Stripe base other than Stripe's; staging runs the shipped
            // defaults against the stand-in.
            .env("PAYLINK_ENV", "staging")
            .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
            .env("PAYLINK__PUBLIC_BASE_URL", &base_url)
            .env("PAYLINK__DATABASE__URL", &scratch.db_url)
            .env("PAYLINK__QUEUE__URL", &scratch.redis_url)
            .env("PAYLINK__QUEUE__NAMESPACE", &scratch.name)
            .env("PAYLINK__ADMIN__TOKEN", ADMIN_TOKEN)
            .env("PAYLINK__STRIPE__API_BASE", &fake_url)
            .env(
                "PAYLINK__STRIPE__RATE_LIMIT_PER_SEC",
                paylink_rate.to_string(),
            )
            .env("PAYLINK__LOG__LEVEL", "error")
            .stdout(Stdio::piped())
            .spawn()?,
    );
    listening_on(&mut paylink.0)?;

    receiver.register(&base_url, ADMIN_TOKEN).await?;
    let client = reqwest::Client::new();
    let product = post(
        &client,
        format!("{base_url}/v1/products"),
        &json!({"name": "Monthly dues", "category": "monthly", "currency": "usd"}),
    )
    .await?;
    let rows: Vec<Value> = (0..orders)
        .map(|i| {
            json!({
                "external_ref": format!("bench-{i}"),
                "product_id": product["id"],
                "amount_cents": 2000 + (i % 500),
                "payer": {"email": format!("payer{i}@example.com"), "name": format!("Payer {i}")}
            })
        })
        .collect();
    let blast_at = Instant::now();
    post(
        &client,
        format!("{base_url}/v1/blasts"),
        &json!({"name": "bench", "orders": rows}),
    )
    .await?;

    // Until every order's link_ready came, or nothing came for STALL.
    let link_ready = |receiver: &Receiver| {
        receiver
            .deliveries
            .lock()
            .map(|d| {
                d.iter()
                    .filter(|d| d.event_type == "order.link_ready")
                    .map(|d| d.webhook_id.clone())
                    .collect::<HashSet<_>>()
                    .len()
            })
            .unwrap_or(0)
    };
    let (mut seen, mut progress_at) = (0, Instant::now());
    while link_ready(&receiver) < orders as usize {
        let n = receiver.count();
        if n != seen {
            (seen, progress_at) = (n, Instant::now());
        }
        anyhow::ensure!(
            progress_at.elapsed() < STALL,
            "no delivery for {} s; {} of {orders} order.link_ready arrived",
            STALL.as_secs(),
            link_ready(&receiver)
        );
        anyhow::ensure!(
            matches!(paylink.0.try_wait(), Ok(None)),
            "paylink ended early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let until_last = blast_at.elapsed().as_secs_f64();

    let (events, seconds, mut lags, distinct, all, mint_seconds) = {
        let deliveries = receiver
            .deliveries
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        let ready: Vec<_> = deliveries
            .iter()
            .filter(|d| d.event_type == "order.link_ready")
            .collect();
        let first = ready.iter().map(|d| d.at).min().unwrap_or(blast_at);
        let last = ready.iter().map(|d| d.at).max().unwrap_or(blast_at);
        let lags: Vec<f64> = ready.iter().map(|d| d.lag_ms).collect();
        // The events' own timestamps span the minting: how fast links were made, beside how
        // fast they were announced.
        let minted_first = ready.iter().map(|d| d.event_at).min();
        let minted_last = ready.iter().map(|d| d.event_at).max();
        let mint_seconds = match (minted_first, minted_last) {
            (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        };
        let distinct = ready
            .iter()
            .map(|d| d.webhook_id.as_str())
            .collect::<HashSet<_>>()
            .len();
        (
            ready.len(),
            (last - first).as_secs_f64(),
            lags,
            distinct,
            deliveries.len(),
            mint_seconds,
        )
    };
    lags.sort_by(f64::total_cmp);
    println!(
        "bench=outbound cpus={} orders={orders} paylink_rate={paylink_rate} events={events} distinct={distinct} all_deliveries={all} seconds={seconds:.2} events_per_sec={:.1} mint_seconds={mint_seconds:.2} minted_per_sec={:.1} blast_to_last_s={until_last:.2} p50_lag_ms={:.0} p99_lag_ms={:.0}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        if seconds > 0.0 {
            events as f64 / seconds
        } else {
            0.0
        },
        if mint_seconds > 0.0 {
            events as f64 / mint_seconds
        } else {
            0.0
        },
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
    );

    drop(paylink);
    drop(fake);
    scratch.remove().await
}
