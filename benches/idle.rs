//! Idle benchmark: what paylink costs with nothing to do. Starts the Stripe stand-in, then each
//! mode in turn with no orders, waits for start-up to pass, and reads the process's CPU time
//! (user + system, from /proc) over the measured seconds. Prints one parseable line per mode:
//!
//!   idle mode=run-embedded seconds=30 cpu_ms=… core_percent=… cores=2
//!
//! Modes: `paylink run` on the embedded default (SQLite file + embedded queue), `paylink run` on
//! PostgreSQL + Redis, and `paylink work` on PostgreSQL + Redis. Needs PostgreSQL and Redis as
//! the tests do; Linux only (it reads /proc). Run:
//!   cargo bench --bench idle -- [--seconds 30] [--warmup 10]
//! `PAYLINK_BENCH_BIN=/path/to/paylink` measures another build (an older commit's, to compare).

#[expect(dead_code, reason = "the percentiles are the other benchmarks'")]
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Scratch, arg};

/// CPU time a process has used so far (user + system), from `/proc/{pid}/stat`.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // Linux reports them in USER_HZ, 100 a second on every platform Rust targets.
    Ok(Duration::from_millis(ticks * 10))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `paylink <args>` with `env` and waits for its "listening on" line (or, for `work`,
/// for the process to be up a moment).
fn start(binary: &PathBuf, args: &[&str], env: &[(String, String)]) -> anyhow::Result<Killed> {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAYLINK")) {
        command.env_remove(key);
    }
    let mut child = command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let child = Killed(child);
    if args[0] != "work" {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            if line?.contains("listening on") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
    }
    Ok(child)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = arg("--seconds", 30);
    let warmup = arg("--warmup", 10);
    let binary: PathBuf = std::env::var_os("PAYLINK_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_paylink")));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let stripe_port = free_port()?;
    let _stand_in = start(
        &binary,
        &["fake-stripe", "--addr", &format!("127.0.0.1:{stripe_port}")],
        &[],
    )?;
    let dir = std::env::temp_dir().join(format!("paylink-idle-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let scratch = Scratch::create().await?;
    let common = |port: u16| -> Vec<(String, String)> {
        [
            ("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}")),
            (
                "PAYLINK__PUBLIC_BASE_URL",
                format!("http://127.0.0.1:{port}"),
            ),
            ("PAYLINK__ADMIN__TOKEN", "bench-admin-token".to_owned()),
            (
                "PAYLINK__STRIPE__API_BASE",
                format!("http://127.0.0.1:{stripe_port}/"),
            ),
            ("PAYLINK__STRIPE__SECRET_KEY", "sk_test_bench".to_owned()),
            ("PAYLINK__STRIPE__WEBHOOK_SECRETS", "whsec_bench".to_owned()),
            ("PAYLINK__LOG__LEVEL", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };
    let services = [
        ("PAYLINK__DATABASE__URL".to_owned(), scratch.db_url.clone()),
        ("PAYLINK__QUEUE__URL".to_owned(), scratch.redis_url.clone()),
        ("PAYLINK__QUEUE__NAMESPACE".to_owned(), scratch.name.clone()),
    ];
    let embedded = (
        "PAYLINK__DATABASE__URL".to_owned(),
        format!("sqlite://{}/paylink.db", dir.display()),
    );
    type Env = Vec<(String, String)>;
    let modes: [(&str, &str, Env); 3] = [
        ("run-embedded", "run", vec![embedded]),
        ("run-postgres-redis", "run", services.to_vec()),
        ("work-postgres-redis", "work", services.to_vec()),
    ];
    for (mode, command, extra) in modes {
        let mut env = common(free_port()?);
        env.extend(extra);
        let process = start(&binary, &[command], &env)?;
        tokio::time::sleep(Duration::from_secs(warmup)).await;
        let pid = process.0.id();
        let before = cpu_time(pid)?;
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let used = cpu_time(pid)? - before;
        drop(process);
        let percent = used.as_secs_f64() * 100.0 / seconds as f64;
        println!(
            "idle mode={mode} seconds={seconds} cpu_ms={} core_percent={percent:.2} cores={cores}",
            used.as_millis()
        );
    }
    scratch.remove().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
