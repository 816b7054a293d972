//! Safe by default (docs/security.md): CSV exports a spreadsheet cannot run, secret
//! settings that never reach a message, production refusing unsafe settings, and a Stripe
//! stand-in that keeps its secret and stays off the network.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::paylink;
use paylink_testkit::{AppOptions, Running, TestApp, spawn_app_with};

/// Payer names a spreadsheet would evaluate as formulas.
const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://x\",\"y\")",
    "+1+cmd|' /C calc'!A0",
    "-2",
    "@SUM(A1)",
];
const ORDINARY: &str = "Pat Parent";

/// One order per payer name, amounts 1000, 1001, …
fn orders(product: &str, names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "external_ref": format!("csv-{i}"),
                "product_id": product,
                "amount_cents": 1000 + i as i64,
                "payer": {"email": format!("payer{i}@example.com"), "name": name}
            })
        })
        .collect()
}

fn names() -> Vec<&'static str> {
    let mut names = FORMULAS.to_vec();
    names.push(ORDINARY);
    names
}

/// Every payer name in a CSV export is defused, ordinary ones and the amounts are unchanged.
fn assert_csv_is_safe(csv: &[u8]) {
    let mut reader = csv::Reader::from_reader(csv);
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (name, amount) = (column("payer_name"), column("amount_cents"));
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), FORMULAS.len() + 1);
    let found: Vec<&str> = records.iter().map(|r| &r[name]).collect();
    for formula in FORMULAS {
        let defused = format!("'{formula}");
        assert!(
            found.contains(&defused.as_str()),
            "{formula:?} is written as {defused:?}: {found:?}"
        );
    }
    assert!(found.contains(&ORDINARY), "{found:?}");
    for record in &records {
        assert!(
            record[amount].parse::<i64>().unwrap() >= 1000,
            "the amount stays a plain number: {record:?}"
        );
    }
    assert!(
        String::from_utf8_lossy(csv).contains(",1000,"),
        "the amount is an unquoted number"
    );
}

async fn app_without_workers() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blast_csv_export_defuses_formulas_and_is_a_download() {
    let app = app_without_workers().await;
    let product = app.create_product("generic").await;
    let created: Value = app
        .post_json(
            "/v1/blasts",
            &json!({"name": "formulas", "orders": orders(&product, &names())}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();

    let response = app.blast_csv(id).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"blast-{id}.csv\"").as_str()
    );
    assert_csv_is_safe(&response.bytes().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_blast_out_defuses_formulas() {
    let app = app_without_workers().await;
    let product = app.create_product("generic").await;
    let dir = std::env::temp_dir().join(format!("paylink_sec_a_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("formulas.csv");
    let mut input = csv::Writer::from_path(&file).unwrap();
    input
        .write_record([
            "external_ref",
            "payer_email",
            "payer_name",
            "product_id",
            "amount_cents",
        ])
        .unwrap();
    for (i, name) in names().into_iter().enumerate() {
        input
            .write_record([
                format!("csv-{i}").as_str(),
                &format!("payer{i}@example.com"),
                name,
                &product,
                &(1000 + i).to_string(),
            ])
            .unwrap();
    }
    input.flush().unwrap();
    let out = dir.join("result.csv");

    let output = tokio::task::spawn_blocking({
        let mut command = paylink();
        command
            .arg("blast")
            .arg(&file)
            .arg("--no-wait")
            .arg("--out")
            .arg(&out)
            .env("PAYLINK_ENV", "test")
            .env("PAYLINK__DATABASE__URL", &app.settings.database.url)
            .env("PAYLINK__PUBLIC_BASE_URL", &app.settings.public_base_url)
            .stderr(Stdio::piped());
        move || command.output().unwrap()
    })
    .await
    .unwrap();

    crate::cli::assert_exited_0(&output);
    assert_csv_is_safe(&std::fs::read(&out).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `paylink` (none of the runner's paylink settings, plus `env`) until it exits, for at
/// most a minute (a command that should have refused to start and serves instead fails the
/// test rather than hanging it); its exit code and everything it printed.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Running(
        paylink()
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (sender, printed) = std::sync::mpsc::channel();
    for mut pipe in [
        Box::new(child.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.0.stderr.take().unwrap()),
    ] {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = sender.send(text);
        });
    }
    drop(sender);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.0.kill();
            let so_far: String = printed.iter().collect();
            panic!("paylink {args:?} still running after a minute: {so_far}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, printed.iter().collect())
}

/// A `paylink` process that printed its "listening on" line.
pub(crate) struct Started {
    process: Running,
    /// What it printed on stdout before that line (start-up warnings).
    before: String,
    /// That line.
    line: String,
    /// Where its stdout (after that line) and stderr go.
    rest: std::sync::mpsc::Receiver<String>,
}

impl Started {
    /// Stops the process; everything it printed.
    pub(crate) fn stop(mut self) -> String {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
        let mut printed = format!("{}{}\n", self.before, self.line);
        while let Ok(chunk) = self.rest.recv_timeout(Duration::from_secs(5)) {
            printed.push_str(&chunk);
        }
        printed
    }
}

/// Starts `command` and waits for its "listening on" line; panics with what it printed if it
/// exits first.
pub(crate) fn start(mut command: Command) -> Started {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, rest) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let errors = sender.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        let _ = errors.send(text);
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut before = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("listening on") {
            std::thread::spawn(move || {
                let text: Vec<String> = lines.map_while(Result::ok).collect();
                let _ = sender.send(text.join("\n"));
            });
            return Started {
                process: Running(child),
                before,
                line,
                rest,
            };
        }
        before.push_str(&line);
        before.push('\n');
    }
    let _ = child.wait();
    let stderr = rest
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    panic!("paylink exited before listening: {before}{stderr}");
}

/// `paylink serve` on a free port with a SQLite file in a directory of its own; its base URL.
pub(crate) fn serve_command(dir: &std::path::Path, env: &[(&str, &str)]) -> (Command, String) {
    let port = paylink_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = paylink();
    command
        .arg("serve")
        .current_dir(dir)
        .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("PAYLINK__PUBLIC_BASE_URL", &base)
        .envs(env.iter().copied());
    (command, base)
}

pub(crate) fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("paylink_sec_a_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Numbers with leading zeros, which figment would read as (shorter) numbers.
const NUMERIC_TOKEN: &str = "00123456789012345678901234567890123";
const NUMERIC_KEY: &str = "0424242424242424242";
const NUMERIC_WEBHOOK_SECRET: &str = "0031415926535";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_secrets_are_read_as_written_and_never_printed() {
    let dir = scratch_dir();
    let (command, base) = serve_command(
        &dir,
        &[
            ("PAYLINK__ADMIN__TOKEN", NUMERIC_TOKEN),
            ("PAYLINK__STRIPE__SECRET_KEY", NUMERIC_KEY),
            ("PAYLINK__STRIPE__WEBHOOK_SECRETS", NUMERIC_WEBHOOK_SECRET),
            ("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/"),
        ],
    );
    let started = start(command);
    let client = reqwest::Client::new();
    let as_admin = |token: &str| {
        client
            .get(format!("{base}/v1/blasts/bl_nonesuch"))
            .bearer_auth(token)
            .send()
    };

    assert_eq!(as_admin(NUMERIC_TOKEN).await.unwrap().status(), 404);
    assert_eq!(
        as_admin(NUMERIC_TOKEN.trim_start_matches('0'))
            .await
            .unwrap()
            .status(),
        401,
        "the token is the text as written, not a number"
    );
    let body =
        json!({"id": "evt_sec_a", "type": "checkout.session.completed", "data": {"object": {}}})
            .to_string();
    let signature = paylink_testkit::sign(
        NUMERIC_WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        &body,
    );
    let delivery = client
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivery.status(), 200, "signed with the secret as written");

    let printed = started.stop();
    for secret in [NUMERIC_TOKEN, NUMERIC_KEY, NUMERIC_WEBHOOK_SECRET] {
        assert!(
            !printed.contains(secret.trim_start_matches('0')),
            "{printed}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_that_fails_to_load_is_never_printed() {
    // The token is read; the database URL is what fails, by name, and no secret is shown.
    let (code, printed) = run_to_exit(
        &["serve"],
        &[
            ("PAYLINK__ADMIN__TOKEN", "9081726354"),
            ("PAYLINK__STRIPE__SECRET_KEY", "8172635409"),
            ("PAYLINK__STRIPE__WEBHOOK_SECRETS", "7263540918"),
            ("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/"),
            ("PAYLINK__QUEUE__URL", "redis://127.0.0.1:9"),
            (
                "PAYLINK__DATABASE__URL",
                "postgres://nobody@127.0.0.1:9/none",
            ),
        ],
    );
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("database"), "{printed}");
    for secret in ["9081726354", "8172635409", "7263540918"] {
        assert!(!printed.contains(secret), "{printed}");
    }
}

/// A production token: long enough, and not a number.
const GOOD_TOKEN: &str = "prod-token-0123456789abcdef0123456789abcdef";

/// Settings production accepts for the intake, with `changes` in place of their defaults.
fn production(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("PAYLINK_ENV", "production"),
        ("PAYLINK__ADMIN__TOKEN", GOOD_TOKEN),
        ("PAYLINK__STRIPE__SECRET_KEY", "sk_test_production_check"),
        ("PAYLINK__STRIPE__API_BASE", "https://api.stripe.com/"),
        ("PAYLINK__STRIPE__WEBHOOK_SECRETS", "whsec_production_check"),
        ("PAYLINK__PUBLIC_BASE_URL", "https://pay.example.org"),
        // Should a check be missing, start-up fails here (exit 1) instead of serving.
        (
            "PAYLINK__DATABASE__URL",
            "postgres://nobody@127.0.0.1:9/none",
        ),
        ("PAYLINK__QUEUE__URL", "redis://127.0.0.1:9"),
    ];
    for (key, value) in changes {
        env.retain(|(k, _)| k != key);
        env.push((key, value));
    }
    env
}

#[test]
fn production_refuses_a_short_admin_token_without_printing_it() {
    let token = "short-but-secret-token";
    for command in ["serve", "run"] {
        let (code, printed) = run_to_exit(
            &[command],
            &production(&[("PAYLINK__ADMIN__TOKEN", "short-but-secret-token")]),
        );
        assert_eq!(code, Some(2), "{command}: {printed}");
        assert!(
            printed.contains("PAYLINK__ADMIN__TOKEN") && printed.contains("at least 32 characters"),
            "{command}: {printed}"
        );
        assert!(!printed.contains(token), "{printed}");
    }
}

#[test]
fn production_refuses_a_stripe_base_that_is_not_stripes() {
    for command in ["serve", "run", "work"] {
        let (code, printed) = run_to_exit(
            &[command],
            &production(&[("PAYLINK__STRIPE__API_BASE", "http://fake-stripe:12111/")]),
        );
        assert_eq!(code, Some(2), "{command}: {printed}");
        assert!(
            printed.contains("PAYLINK__STRIPE__API_BASE"),
            "{command}: {printed}"
        );
    }
}

#[test]
fn production_refuses_an_intake_without_a_webhook_secret() {
    for command in ["serve", "run"] {
        let (code, printed) = run_to_exit(
            &[command],
            &production(&[("PAYLINK__STRIPE__WEBHOOK_SECRETS", "")]),
        );
        assert_eq!(code, Some(2), "{command}: {printed}");
        assert!(
            printed.contains("PAYLINK__STRIPE__WEBHOOK_SECRETS"),
            "{command}: {printed}"
        );
    }
}

/// Production means payers reach it: an `http://` public URL (loopback included) would send pay
/// URLs, the return page and the dashboard's login in clear.
#[test]
fn production_refuses_an_http_public_url_naming_the_setting() {
    for (command, url) in [
        ("serve", "http://pay.example.org"),
        ("run", "http://127.0.0.1:8080"),
        ("work", "http://pay.example.org"),
    ] {
        let (code, printed) = run_to_exit(
            &[command],
            &production(&[("PAYLINK__PUBLIC_BASE_URL", url)]),
        );
        assert_eq!(code, Some(2), "{command} {url}: {printed}");
        assert!(
            printed.contains("PAYLINK__PUBLIC_BASE_URL") && printed.contains("https://"),
            "{command} {url}: {printed}"
        );
    }
}

/// Passwords a driver misreads (a raw `?` or `@`, as a random password may hold) are never
/// printed, neither by `serve` nor `run` failing to reach the database nor by the doctor.
#[test]
fn a_database_password_with_a_raw_question_mark_or_at_sign_is_never_printed() {
    for (password, shown) in [("pa?ss-7f3a", "ss-7f3a"), ("p@ss-9c1e", "ss-9c1e")] {
        let url = format!("postgres://nobody:{password}@127.0.0.1:9/none");
        let env = [
            ("PAYLINK__ADMIN__TOKEN", "9081726354"),
            ("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/"),
            ("PAYLINK__QUEUE__URL", "redis://127.0.0.1:9"),
            ("PAYLINK__DATABASE__URL", url.as_str()),
        ];
        for command in ["serve", "run", "doctor"] {
            let (code, printed) = run_to_exit(&[command], &env);
            assert_eq!(code, Some(1), "{command}: {printed}");
            assert!(printed.contains("127.0.0.1:9/none"), "{command}: {printed}");
            assert!(
                !printed.contains(shown),
                "{command} printed the password {password:?}: {printed}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_with_safe_settings_serves() {
    let dir = scratch_dir();
    let (command, base) = serve_command(
        &dir,
        &production(&[
            ("PAYLINK__DATABASE__URL", "sqlite://data/paylink.db"),
            ("PAYLINK__QUEUE__URL", ""),
        ]),
    );
    let started = start(command);

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();

    assert_eq!(health.status(), 200);
    let printed = started.stop();
    assert!(!printed.contains(GOOD_TOKEN), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_never_answers_with_its_webhook_secret() {
    let server = paylink::fake_stripe::FakeStripeServer::bind(
        "127.0.0.1:0",
        paylink::fake_stripe::FakeConfig {
            webhook_secret: Some("whsec_never_shown_1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let url = format!("{}_fake/config", server.base_url());
    tokio::spawn(server.run());
    let client = reqwest::Client::new();

    for patch in [json!({}), json!({"webhook_secret": "whsec_never_shown_2"})] {
        let response = client.post(&url).json(&patch).send().await.unwrap();

        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.contains("whsec_never_shown"), "{text}");
        let config: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(config["webhook_secret_set"], true, "{config}");
        assert_eq!(config["rate_limit_per_sec"], 25, "the rest is answered");
    }
}

#[test]
fn the_stand_in_refuses_a_non_loopback_address() {
    for addr in ["0.0.0.0:0", "[::]:0", "fake-stripe.example.com:12111"] {
        let (code, printed) = run_to_exit(&["fake-stripe", "--addr", addr], &[]);

        assert_eq!(code, Some(2), "{addr}: {printed}");
        assert!(
            printed.contains("--allow-remote")
                && printed.contains("loopback")
                && printed.contains("no credentials"),
            "{addr}: {printed}"
        );
    }
}

#[test]
fn the_stand_in_listens_on_loopback_or_when_remote_is_allowed() {
    for args in [
        &["fake-stripe", "--addr", "127.0.0.1:0"][..],
        &["fake-stripe", "--addr", "localhost:0"][..],
        &["fake-stripe", "--addr", "0.0.0.0:0", "--allow-remote"][..],
    ] {
        let mut command = paylink();
        command.args(args);
        let started = start(command);
        assert!(
            started.line.contains("fake-stripe listening on"),
            "{args:?}"
        );
        started.stop();
    }
}

#[test]
fn the_stand_ins_help_never_shows_its_webhook_secret() {
    let (code, printed) = run_to_exit(
        &["fake-stripe", "--help"],
        &[("PAYLINK_FAKE_WEBHOOK_SECRET", "whsec_shown_nowhere")],
    );

    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("PAYLINK_FAKE_WEBHOOK_SECRET"), "{printed}");
    assert!(!printed.contains("whsec_shown_nowhere"), "{printed}");
}
