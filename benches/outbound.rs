//! Outbound webhook benchmark: the Stripe stand-in (no rate limit), `paylink run` (intake and
//! workers in one process) on PostgreSQL and Redis, and a receiver in the benchmark answering
//! 204 at once, registered as an endpoint for every event type before a blast of N orders goes
//! in through `POST /v1/blasts`. Prints one parseable line: `order.link_ready` deliveries per
//! second at the receiver (from the first to the last), and p50/p99 lag from each event's
//! `timestamp` (written with the minted link) to its arrival.
//!
//!   cargo bench --bench outbound -- [--orders 2000] [--paylink-rate 1000] [--endpoints 1]
//!
//! Minting runs at up to `--paylink-rate` links/s; `minted_per_sec` is how fast it went (from
//! the events' own timestamps), so the lag is the dispatcher's backlog: a p99 that grows with
//! `--orders`, and `events_per_sec` below `minted_per_sec`, mean delivery is slower than
//! minting. `all_deliveries` counts every delivery (`blast.completed` too); `distinct` the
//! `order.link_ready` events by `webhook-id` (below `events` only if one was sent twice).
//!
//! Then every order is paid: once all links are active, checkout completes at the stand-in for
//! each (`PAY_CONCURRENCY` at a time), the stand-in sends paylink the signed
//! `checkout.session.completed`, and paylink's workers settle the order, writing `order.paid` in
//! the settlement's transaction. A second line (`bench=outbound_paid`) gives the time from the
//! first completion until `GET /v1/blasts/{id}` counts every order paid (polled every 50 ms),
//! `paid_per_sec`, and with an endpoint the `order.paid` deliveries and their p50/p99 lag.
//! `--endpoints 0` registers no endpoint (no `bench=outbound` line then: nothing is delivered),
//! so that the two runs' `paid_per_sec` differ by what an endpoint costs per payment. The
//! product is a `jersey`, whose links stay active once paid: no deactivation jobs in the figure.
//! `fire_seconds` is how long the completions took to send, so a `paid_seconds` close to it
//! means the stand-in, not paylink, set the pace.

mod common;
#[path = "common/receiver.rs"]
mod receiver;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use common::{Scratch, arg, percentile};
use receiver::Receiver;

const ADMIN_TOKEN: &str = "bench-outbound-admin-token";

/// The secret the stand-in signs its webhooks with, and paylink checks them with.
const STRIPE_WEBHOOK_SECRET: &str = "whsec_bench_outbound";

/// Checkouts completed at the stand-in at once in the pay phase.
const PAY_CONCURRENCY: usize = 32;

/// A category whose links stay active once paid (not in `deactivate_on_paid_categories`).
const CATEGORY: &str = "jersey";

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

async fn get(client: &reqwest::Client, url: String) -> anyhow::Result<Value> {
    let response = client.get(&url).bearer_auth(ADMIN_TOKEN).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "GET {url} answered {status}: {body}");
    Ok(body)
}

/// `counts.<field>` of `GET /v1/blasts/{id}`.
async fn blast_count(
    client: &reqwest::Client,
    base_url: &str,
    blast_id: &str,
    field: &str,
) -> anyhow::Result<u64> {
    let blast = get(client, format!("{base_url}/v1/blasts/{blast_id}")).await?;
    blast["counts"][field]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("the blast has no counts.{field}: {blast}"))
}

/// Polls `GET /v1/blasts/{id}` every 50 ms until `counts.<field>` is `orders`, or it has not
/// moved for `STALL`.
async fn until_count(
    client: &reqwest::Client,
    base_url: &str,
    blast_id: &str,
    field: &str,
    orders: u64,
    paylink: &mut Killed,
) -> anyhow::Result<()> {
    let (mut seen, mut progress_at) = (0, Instant::now());
    loop {
        let n = blast_count(client, base_url, blast_id, field).await?;
        if n >= orders {
            return Ok(());
        }
        if n != seen {
            (seen, progress_at) = (n, Instant::now());
        }
        anyhow::ensure!(
            progress_at.elapsed() < STALL,
            "counts.{field} stayed at {n} of {orders} for {} s",
            STALL.as_secs()
        );
        anyhow::ensure!(
            matches!(paylink.0.try_wait(), Ok(None)),
            "paylink ended early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The Payment Link of every order of the blast, as paylink holds it.
async fn link_ids(
    client: &reqwest::Client,
    base_url: &str,
    blast_id: &str,
) -> anyhow::Result<Vec<String>> {
    let mut order_ids = Vec::new();
    for page in 1.. {
        let found = get(
            client,
            format!("{base_url}/v1/blasts/{blast_id}/orders?page={page}&per_page=1000"),
        )
        .await?;
        for row in found["data"].as_array().into_iter().flatten() {
            let id = row["id"].as_str().unwrap_or_default().to_owned();
            order_ids.push(id);
        }
        if found["has_more"] != Value::Bool(true) {
            break;
        }
    }
    futures::stream::iter(order_ids)
        .map(|id| async move {
            let found = get(client, format!("{base_url}/v1/orders/{id}")).await?;
            found["stripe_payment_link_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("order {id} has no Payment Link: {found}"))
        })
        .buffer_unordered(PAY_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders = arg("--orders", 2000);
    let paylink_rate = arg("--paylink-rate", 1000);
    let endpoints = arg("--endpoints", 1);
    anyhow::ensure!(endpoints <= 1, "--endpoints is 0 or 1, not {endpoints}");
    let bin = env!("CARGO_BIN_EXE_paylink");
    let scratch = Scratch::create().await?;

    // The intake's port is chosen first, so that the stand-in can send its webhooks there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut fake = Killed(
        Command::new(bin)
            .args([
                "fake-stripe",
                "--addr",
                "127.0.0.1:0",
                "--rate-limit-per-sec=0",
                "--account-rate-limit-per-sec=0",
            ])
            .arg(format!("--webhook-url={base_url}/webhooks/stripe"))
            .env("PAYLINK_FAKE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let fake_url = listening_on(&mut fake.0)?;

    let receiver = Receiver::start().await?;
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
            .env("PAYLINK__STRIPE__WEBHOOK_SECRETS", STRIPE_WEBHOOK_SECRET)
            // The benchmark's receiver listens on 127.0.0.1.
            .env("PAYLINK__OUTBOUND__ALLOW_PRIVATE_NETWORKS", "true")
            .env(
                "PAYLINK__STRIPE__RATE_LIMIT_PER_SEC",
                paylink_rate.to_string(),
            )
            .env("PAYLINK__LOG__LEVEL", "error")
            .stdout(Stdio::piped())
            .spawn()?,
    );
    listening_on(&mut paylink.0)?;

    if endpoints == 1 {
        receiver.register(&base_url, ADMIN_TOKEN).await?;
    }
    let client = reqwest::Client::new();
    let product = post(
        &client,
        format!("{base_url}/v1/products"),
        &json!({"name": "Team jersey", "category": CATEGORY, "currency": "usd"}),
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
    let blast = post(
        &client,
        format!("{base_url}/v1/blasts"),
        &json!({"name": "bench", "orders": rows}),
    )
    .await?;
    let blast_id = blast["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the blast has no id: {blast}"))?
        .to_owned();

    if endpoints == 1 {
        link_ready_phase(&receiver, &mut paylink, orders, paylink_rate, blast_at).await?;
    }
    // With an endpoint every link is active by now (each link_ready is written with its
    // mint); without one, this is how the minting is waited for.
    until_count(
        &client,
        &base_url,
        &blast_id,
        "active",
        orders,
        &mut paylink,
    )
    .await?;

    pay_phase(
        &client,
        &base_url,
        &blast_id,
        &fake_url,
        &receiver,
        &mut paylink,
        orders,
        endpoints,
    )
    .await?;

    drop(paylink);
    drop(fake);
    scratch.remove().await
}

/// Waits until every order's `order.link_ready` came, and prints the `bench=outbound` line.
async fn link_ready_phase(
    receiver: &Receiver,
    paylink: &mut Killed,
    orders: u64,
    paylink_rate: u64,
    blast_at: Instant,
) -> anyhow::Result<()> {
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
    while link_ready(receiver) < orders as usize {
        let n = receiver.count();
        if n != seen {
            (seen, progress_at) = (n, Instant::now());
        }
        anyhow::ensure!(
            progress_at.elapsed() < STALL,
            "no delivery for {} s; {} of {orders} order.link_ready arrived",
            STALL.as_secs(),
            link_ready(receiver)
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
        cpus(),
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
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0)
}

/// The `order.paid` deliveries the receiver holds: how many, how many distinct, and their lags.
fn paid_deliveries(receiver: &Receiver) -> (usize, usize, Vec<f64>) {
    receiver
        .deliveries
        .lock()
        .map(|d| {
            let paid: Vec<_> = d.iter().filter(|d| d.event_type == "order.paid").collect();
            let distinct = paid
                .iter()
                .map(|d| d.webhook_id.as_str())
                .collect::<HashSet<_>>()
                .len();
            (
                paid.len(),
                distinct,
                paid.iter().map(|d| d.lag_ms).collect(),
            )
        })
        .unwrap_or_default()
}

/// Completes checkout at the stand-in for every order, measures until all are paid, and prints
/// the `bench=outbound_paid` line.
#[allow(clippy::too_many_arguments)]
async fn pay_phase(
    client: &reqwest::Client,
    base_url: &str,
    blast_id: &str,
    fake_url: &str,
    receiver: &Receiver,
    paylink: &mut Killed,
    orders: u64,
    endpoints: u64,
) -> anyhow::Result<()> {
    let links = link_ids(client, base_url, blast_id).await?;
    anyhow::ensure!(
        links.len() as u64 == orders,
        "{} of {orders} orders have a Payment Link",
        links.len()
    );
    let stripe = Arc::new(fake_stripe::FakeStripeClient::new(fake_url));
    let paid_from = Instant::now();
    let mut paying = Some(tokio::spawn(async move {
        let failures: Vec<String> = futures::stream::iter(links)
            .map(|link| {
                let stripe = stripe.clone();
                async move {
                    stripe
                        .complete(&link, "paid")
                        .await
                        .err()
                        .map(|e| format!("{link}: {e:#}"))
                }
            })
            .buffer_unordered(PAY_CONCURRENCY)
            .filter_map(|e| async { e })
            .collect()
            .await;
        (paid_from.elapsed(), failures)
    }));
    let mut fire_seconds = None;

    // Until every order is paid, or the count has not moved for STALL.
    let (mut seen, mut progress_at) = (0, Instant::now());
    loop {
        if let Some(handle) = paying.take_if(|h| h.is_finished()) {
            let (fired, failures) = handle.await?;
            anyhow::ensure!(
                failures.is_empty(),
                "{} completions failed, e.g. {}",
                failures.len(),
                failures[0]
            );
            fire_seconds = Some(fired.as_secs_f64());
        }
        let paid = blast_count(client, base_url, blast_id, "paid").await?;
        if paid >= orders {
            break;
        }
        if paid != seen {
            (seen, progress_at) = (paid, Instant::now());
        }
        anyhow::ensure!(
            progress_at.elapsed() < STALL,
            "counts.paid stayed at {paid} of {orders} for {} s",
            STALL.as_secs()
        );
        anyhow::ensure!(
            matches!(paylink.0.try_wait(), Ok(None)),
            "paylink ended early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paid_seconds = paid_from.elapsed().as_secs_f64();
    if let Some(handle) = paying.take() {
        let (fired, _) = handle.await?;
        fire_seconds = Some(fired.as_secs_f64());
    }

    // With an endpoint, until every order.paid arrived too (outside `paid_seconds`).
    let mut delivered_seconds = 0.0;
    if endpoints == 1 {
        let (mut seen, mut progress_at) = (0, Instant::now());
        while paid_deliveries(receiver).1 < orders as usize {
            let n = receiver.count();
            if n != seen {
                (seen, progress_at) = (n, Instant::now());
            }
            anyhow::ensure!(
                progress_at.elapsed() < STALL,
                "no delivery for {} s; {} of {orders} order.paid arrived",
                STALL.as_secs(),
                paid_deliveries(receiver).1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        delivered_seconds = paid_from.elapsed().as_secs_f64();
    }
    let (deliveries, distinct, mut lags) = paid_deliveries(receiver);
    lags.sort_by(f64::total_cmp);
    println!(
        "bench=outbound_paid cpus={} orders={orders} endpoints={endpoints} category={CATEGORY} pay_concurrency={PAY_CONCURRENCY} fire_seconds={:.2} paid_seconds={paid_seconds:.2} paid_per_sec={:.1} paid_deliveries={deliveries} paid_distinct={distinct} first_pay_to_last_paid_delivery_s={delivered_seconds:.2} p50_paid_lag_ms={:.0} p99_paid_lag_ms={:.0}",
        cpus(),
        fire_seconds.unwrap_or(0.0),
        orders as f64 / paid_seconds,
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
    );
    Ok(())
}
