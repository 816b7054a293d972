//! Blast benchmark: the Stripe stand-in, N `paylink work` processes and a blast of K orders,
//! end to end on PostgreSQL and Redis. Prints one parseable line: links/s, Stripe requests per
//! link, 429s seen, p50/p99 time from enqueue to minted, peak worker memory, and the number of
//! orders with more than one link at the stand-in.
//!
//!   cargo bench --bench blast -- [--orders 5000] [--workers 2] [--stand-in-rate 25] [--paylink-rate 25]
//!
//! `--stand-in-rate 0` lifts the stand-in's limit (then give `--paylink-rate` a high value).

mod common;
#[path = "common/processes.rs"]
mod processes;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paylink_core::domain::{OrderInput, Payer};
use sea_orm::{ConnectionTrait, Statement};

use common::{Scratch, arg, percentile};
use processes::{Killed, peak_mb, stand_in};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders = arg("--orders", 5000) as usize;
    let workers = arg("--workers", 2);
    let stand_in_rate = arg("--stand-in-rate", 25);
    let paylink_rate = arg("--paylink-rate", 25);
    let bin = env!("CARGO_BIN_EXE_paylink");
    let scratch = Scratch::create().await?;
    let (name, db_url, redis_url) = (
        scratch.name.clone(),
        scratch.db_url.clone(),
        scratch.redis_url.clone(),
    );

    let (_fake, fake_url) = stand_in(bin, stand_in_rate)?;

    // Schema, a product and the blast, stored the way `paylink blast` stores them.
    let settings = paylink::config::Settings::from_figment(
        paylink::config::Settings::figment_for("production")
            .merge(("database.url", db_url.clone()))
            .merge(("stripe.api_base", fake_url.clone())),
    )?;
    let db = paylink::startup::connect_database(&settings).await?;
    let product =
        paylink_core::store::product::insert(&db, "Monthly dues", "monthly", "usd").await?;
    let rows: Vec<OrderInput> = (0..orders)
        .map(|i| OrderInput {
            external_ref: format!("bench-{i}"),
            product_id: product.id.clone(),
            amount_cents: 2000 + (i % 500) as i64,
            currency: None,
            payer: Payer {
                email: format!("payer{i}@example.com"),
                name: format!("Payer {i}"),
            },
        })
        .collect();
    paylink_core::blasts::create(&db, "bench", rows).await?;

    let started = Instant::now();
    let mut pool: Vec<Killed> = (0..workers)
        .map(|_| {
            Command::new(bin)
                .arg("work")
                // Production refuses a Stripe base other than Stripe's; staging has no overlay,
                // so the workers run at the shipped defaults against the stand-in.
                .env("PAYLINK_ENV", "staging")
                .env("PAYLINK__DATABASE__URL", &db_url)
                .env("PAYLINK__QUEUE__URL", &redis_url)
                .env("PAYLINK__QUEUE__NAMESPACE", &name)
                .env("PAYLINK__STRIPE__API_BASE", &fake_url)
                .env(
                    "PAYLINK__STRIPE__RATE_LIMIT_PER_SEC",
                    paylink_rate.to_string(),
                )
                .env("PAYLINK__LOG__LEVEL", "error")
                .stdout(Stdio::null())
                .spawn()
                .map(Killed)
        })
        .collect::<Result<_, _>>()?;
    let backend = db.get_database_backend();
    let count = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let mut peak = 0.0f64;
    loop {
        for w in &pool {
            peak = peak.max(peak_mb(w.0.id()));
        }
        let row = db
            .query_one_raw(count(
                "SELECT COUNT(*) AS n FROM orders WHERE link_state = 'minting'",
            ))
            .await?
            .expect("row");
        if row.try_get::<i64>("", "n")? == 0 {
            break;
        }
        anyhow::ensure!(
            pool.iter_mut().all(|w| matches!(w.0.try_wait(), Ok(None))),
            "a worker died"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for w in &pool {
        peak = peak.max(peak_mb(w.0.id()));
    }

    let rows = db
        .query_all_raw(count(
            "SELECT CAST(EXTRACT(EPOCH FROM (updated_at - enqueued_at)) * 1000 AS DOUBLE PRECISION) AS ms, link_state FROM orders",
        ))
        .await?;
    let mut latencies: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.try_get::<f64>("", "ms").ok())
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let failed = rows
        .iter()
        .filter(|r| r.try_get::<String>("", "link_state").ok().as_deref() == Some("failed"))
        .count();

    let stand_in = paylink::fake_stripe::FakeStripeClient::new(&fake_url);
    let stats = stand_in.stats().await?;
    let mut per_order: HashMap<String, u32> = HashMap::new();
    for link in stand_in.links().await? {
        *per_order
            .entry(
                link["metadata"]["order_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_default() += 1;
    }
    let requests = stats["requests"]["POST /v1/payment_links"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "bench=blast cpus={} orders={orders} workers={workers} stand_in_rate={stand_in_rate} paylink_rate={paylink_rate} seconds={elapsed:.1} links_per_s={:.1} stripe_requests_per_link={:.3} rate_limited={} enqueue_to_minted_p50_ms={:.0} p99_ms={:.0} peak_worker_mb={peak:.1} failed={failed} links={} orders_with_two_links={}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        orders as f64 / elapsed,
        requests as f64 / orders as f64,
        stats["rate_limited"],
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        stats["payment_links"]["total"],
        per_order.values().filter(|n| **n > 1).count(),
    );

    drop(pool);
    drop(db);
    scratch.remove().await
}
