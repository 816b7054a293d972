//! Webhook intake benchmark: drives `paylink serve` over loopback with many connections, each
//! sending freshly signed `checkout.session.completed` deliveries, and prints one parseable line:
//! requests/s, p50/p99 latency, errors, and how many events were stored and enqueued.
//!
//! Needs PostgreSQL and Redis as the tests do. Run:
//!   cargo bench --bench webhook_intake -- [--seconds 10] [--connections 64] [--warmup 2] [--with-endpoint]
//! Figures cover the measured seconds only, after the warm-up; `stored` and `enqueued` count
//! every delivery, warm-up included, and must equal the requests answered 200 overall.
//!
//! `--with-endpoint` registers one outbound webhook endpoint (a receiver in the benchmark
//! answering 204) before the run, and `endpoints=` says how many there were. The intake only
//! stores and enqueues Stripe's events (no worker runs here): the outbound event and its
//! delivery are written later, by the worker that settles the payment, so an endpoint should
//! leave these figures where they were.

mod common;
// Only the count of deliveries is read here.
#[allow(dead_code)]
#[path = "common/receiver.rs"]
mod receiver;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use common::{Scratch, arg, percentile};

const SECRET: &str = "whsec_bench";

fn event(n: u64, connection: u64) -> String {
    serde_json::json!({
        "id": format!("evt_bench_{connection}_{n}_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "livemode": false,
        "data": {"object": {
            "id": format!("cs_test_bench_{connection}_{n}"),
            "object": "checkout.session",
            "payment_link": "plink_bench",
            "payment_intent": "pi_bench",
            "customer": "cus_bench",
            "payment_status": "paid",
            "metadata": {"order_id": format!("ord_bench_{n}")}
        }}
    })
    .to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 64);
    let with_endpoint = std::env::args().any(|a| a == "--with-endpoint");
    let scratch = Scratch::create().await?;
    let (name, redis_url) = (scratch.name.clone(), scratch.redis_url.clone());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();

    let mut server = Command::new(env!("CARGO_BIN_EXE_paylink"))
        .arg("serve")
        .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("PAYLINK__DATABASE__URL", &scratch.db_url)
        .env("PAYLINK__DATABASE__MAX_CONNECTIONS", "16")
        // No workers drain the queue here: lift the window so every delivery takes the enqueue
        // path being measured (in production the window keeps Redis below apalis's limit).
        .env("PAYLINK__WORKERS__WINDOW", "100000000")
        .env("PAYLINK__QUEUE__URL", &redis_url)
        .env("PAYLINK__QUEUE__NAMESPACE", &name)
        .env("PAYLINK__ADMIN__TOKEN", "bench")
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
        .env("PAYLINK__STRIPE__WEBHOOK_SECRETS", SECRET)
        .env("PAYLINK__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = server.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line?.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let receiver = if with_endpoint {
        let receiver = receiver::Receiver::start().await?;
        receiver
            .register(&format!("http://127.0.0.1:{port}"), "bench")
            .await?;
        Some(receiver)
    } else {
        None
    };

    let url = Arc::new(format!("http://127.0.0.1:{port}/webhooks/stripe"));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()?;
    let secret = SecretString::from(SECRET);
    // Warm up first (connections opened, pools filled), then measure.
    let warmup = Duration::from_secs(arg("--warmup", 2));
    let measure_from = Instant::now() + warmup;
    let deadline = measure_from + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let body = event(n, c);
                    let signature = paylink::webhook_signature::sign(
                        &secret,
                        chrono::Utc::now().timestamp(),
                        body.as_bytes(),
                    );
                    let sent = Instant::now();
                    let ok = client
                        .post(url.as_str())
                        .header("content-type", "application/json")
                        .header("stripe-signature", signature)
                        .body(body)
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    if sent >= measure_from {
                        latencies.push(sent.elapsed());
                        if !ok {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = seconds as f64;
    let mut latencies: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    latencies.sort_by(f64::total_cmp);

    let db = sea_orm::Database::connect(&scratch.db_url).await?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM stripe_events",
        ))
        .await?
        .expect("a row");
    let stored: i64 = row.try_get("", "n")?;
    let redis = redis::Client::open(redis_url.as_str())?;
    let mut conn = redis.get_multiplexed_async_connection().await?;
    // apalis-redis keeps jobs pushed in bulk in the queue's scheduled set until a worker promotes them.
    let scheduled: i64 = redis::cmd("ZCARD")
        .arg(format!("{name}:stripe_event:scheduled"))
        .query_async(&mut conn)
        .await?;
    let active: i64 = redis::cmd("LLEN")
        .arg(format!("{name}:stripe_event:active"))
        .query_async(&mut conn)
        .await?;
    let enqueued = scheduled + active;

    println!(
        "bench=webhook_intake cpus={} connections={connections} seconds={seconds} requests={} rps={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} p999_ms={:.2} errors={errors} stored={stored} enqueued={enqueued} endpoints={} outbound_deliveries={}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        u8::from(receiver.is_some()),
        receiver.as_ref().map_or(0, receiver::Receiver::count),
    );

    let _ = server.kill();
    let _ = server.wait();
    drop(db);
    scratch.remove().await
}
