//! The `paylink` binary as a new user starts it from docs/operations.md ("Running paylink
//! yourself"): the stand-in in one process, `paylink run` in another, an order POSTed, its pay URL
//! clicked.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use paylink_testkit::{Running, eventually, redis_url};

/// `paylink` with none of the test runner's paylink settings; stdout piped, stderr dropped.
pub(crate) fn paylink() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paylink"));
    command
        .env_remove("PAYLINK_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAYLINK__")) {
        command.env_remove(key);
    }
    command
}

/// The command exited 0; else the failure shows what it printed on stderr.
pub(crate) fn assert_exited_0(output: &std::process::Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads stdout lines until one contains `marker`; returns that line.
fn wait_for_line(child: &mut Child, marker: &str) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("readable stdout");
        if line.contains(marker) {
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return line;
        }
    }
    panic!("the process exited before printing {marker:?}");
}

/// The HTTP API of a `paylink` process a test started, as its admin (token `change-me`).
pub(crate) struct ProcessApi {
    pub base: String,
    pub client: reqwest::Client,
}

impl ProcessApi {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// POSTs `body` and returns the answer's JSON.
    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth("change-me")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "POST {path}: {response:?}");
        response.json().await.unwrap()
    }

    /// GETs `path` as JSON; `None` while the process does not answer.
    pub(crate) async fn get(&self, path: &str) -> Option<Value> {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth("change-me")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_run_with_redis_turns_an_order_into_a_working_pay_url() {
    paylink_run_turns_an_order_into_a_working_pay_url(true).await;
}

/// The embedded default: no Redis setting at all, the queue in the SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_run_with_no_services_turns_an_order_into_a_working_pay_url() {
    paylink_run_turns_an_order_into_a_working_pay_url(false).await;
}

async fn paylink_run_turns_an_order_into_a_working_pay_url(redis: bool) {
    let tmp = std::env::temp_dir().join(format!("paylink_cli_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut fake = Running(
        paylink()
            .args(["fake-stripe", "--addr", "127.0.0.1:0"])
            .spawn()
            .unwrap(),
    );
    let line = wait_for_line(&mut fake.0, "listening on");
    let fake_url = line.rsplit(' ').next().unwrap().to_owned();
    let port = paylink_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let namespace = format!("paylink_cli_{}", uuid::Uuid::new_v4().simple());
    let mut command = paylink();
    command
        .arg("run")
        .current_dir(&tmp)
        .env("PAYLINK__QUEUE__NAMESPACE", &namespace)
        .env("PAYLINK__ADMIN__TOKEN", "change-me")
        .env("PAYLINK__STRIPE__API_BASE", &fake_url)
        .env("PAYLINK__STRIPE__WEBHOOK_SECRETS", "whsec_dev")
        .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("PAYLINK__PUBLIC_BASE_URL", &base);
    if redis {
        command.env("PAYLINK__QUEUE__URL", redis_url());
    }
    let mut run = Running(command.spawn().unwrap());
    wait_for_line(&mut run.0, "listening on");
    let api = ProcessApi::new(&base);
    let client = &api.client;

    let product = api
        .post(
            "/v1/products",
            json!({"name": "April dues", "category": "monthly", "currency": "usd"}),
        )
        .await;
    let order = api
        .post(
            "/v1/orders",
            json!({
                "external_ref": "april-7", "product_id": product["id"], "amount_cents": 4500,
                "payer": {"email": "pat@example.com", "name": "Pat"}
            }),
        )
        .await;
    let id = order["id"].as_str().unwrap();
    let minted = eventually(Duration::from_secs(20), || async {
        let o = api.get(&format!("/v1/orders/{id}")).await?;
        (o["link_state"] == "active").then_some(o)
    })
    .await
    .expect("the worker minted the link");
    let click = client
        .get(order["pay_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();

    assert_eq!(click.status(), 303);
    let location = click.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        minted["stripe_payment_link_url"].as_str().unwrap()
    );
    assert!(
        location.starts_with(fake_url.trim_end_matches('/')),
        "{location} is at the stand-in"
    );
    let hosted = client.get(&location).send().await.unwrap();
    assert_eq!(hosted.status(), 200);
    assert!(hosted.text().await.unwrap().contains("45.00 USD"));
    assert!(
        tmp.join("data/paylink.db").exists(),
        "the default SQLite file under ./data/"
    );

    // SIGTERM stops it cleanly.
    Command::new("kill")
        .args(["-TERM", &run.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        match run.0.try_wait().unwrap() {
            Some(status) => break Some(status),
            None if std::time::Instant::now() > deadline => break None,
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "exit 0 after SIGTERM"
    );

    if redis {
        paylink_testkit::clean_redis_namespace(namespace);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn postgres_without_a_queue_url_exits_2_naming_the_setting() {
    let output = paylink()
        .arg("work")
        .env(
            "PAYLINK__DATABASE__URL",
            "postgres://nobody@127.0.0.1:9/none",
        )
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PAYLINK__QUEUE__URL"), "{stderr}");
}

#[test]
fn a_missing_setting_exits_2_naming_it() {
    let output = paylink()
        .arg("run")
        .env("PAYLINK__QUEUE__URL", redis_url())
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
        .env("PAYLINK__DATABASE__URL", "sqlite::memory:")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PAYLINK__ADMIN__TOKEN"), "{stderr}");
}

#[test]
fn a_settings_file_is_read_and_a_missing_one_exits_2_naming_it() {
    let missing = paylink()
        .arg("migrate")
        .env("PAYLINK_CONFIG", "/nonexistent/paylink.toml")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("PAYLINK_CONFIG") && stderr.contains("/nonexistent/paylink.toml"),
        "{stderr}"
    );

    // A file that sets a secret is refused like config/ is; one without is read (its bad
    // database URL is what fails, by name).
    let dir =
        std::env::temp_dir().join(format!("paylink_config_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret.toml");
    std::fs::write(&secret, "[admin]\ntoken = \"x\"\n").unwrap();
    let refused = paylink()
        .arg("migrate")
        .env("PAYLINK_CONFIG", &secret)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin.token"));
    let read = dir.join("read.toml");
    std::fs::write(
        &read,
        "[database]\nurl = \"nosuchscheme://from-the-file\"\n",
    )
    .unwrap();
    let output = paylink()
        .arg("migrate")
        .env("PAYLINK_CONFIG", &read)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("nosuchscheme"),
        "the file's URL was used: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `migrate` names the database it upgraded, and says so when it made a new SQLite file
/// (a run from another folder, or a mistyped path) instead of upgrading one.
#[test]
fn migrate_names_its_database_and_says_when_the_file_is_new() {
    let dir =
        std::env::temp_dir().join(format!("paylink_migrate_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let migrate = || {
        let output = paylink()
            .arg("migrate")
            .current_dir(&dir)
            .env("PAYLINK__DATABASE__URL", "sqlite://data/paylink.db")
            .env("PAYLINK__LOG__LEVEL", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        crate::cli::assert_exited_0(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let file = dir.join("data").join("paylink.db");
    let first = migrate();
    assert!(
        first.contains(&format!("the file {}", file.display()))
            && first.contains("new, empty SQLite file"),
        "{first}"
    );
    let again = migrate();
    assert!(
        again.contains("none were pending") && !again.contains("new, empty"),
        "{again}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `paylink blast` against an app's database, with the app's in-process workers minting.
pub(crate) fn blast_command(app: &paylink_testkit::TestApp) -> Command {
    let mut command = paylink();
    command
        .arg("blast")
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", &app.settings.database.url)
        .env("PAYLINK__PUBLIC_BASE_URL", &app.settings.public_base_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_blast_creates_the_orders_waits_for_the_links_and_writes_the_result() {
    let app = paylink_testkit::spawn_app().await;
    let product = app.create_product("monthly").await;
    let dir = std::env::temp_dir().join(format!("paylink_blast_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("june.csv");
    let mut csv = String::from("external_ref,payer_email,payer_name,product_id,amount_cents\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "june-{i},p{i}@example.com,Payer {i},{product},{}\n",
            4000 + i
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let out = dir.join("result.csv");

    let first = tokio::task::spawn_blocking({
        let mut command = blast_command(&app);
        command.arg(&file).arg("--out").arg(&out);
        move || command.output().unwrap()
    })
    .await
    .unwrap();

    crate::cli::assert_exited_0(&first);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(
            "30 links ready to pay, 0 paid, 0 cancelled, 0 failed, 0 not made yet (of 30)"
        ),
        "{stdout}"
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let pay = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "pay_url")
        .unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 30);
    let click = app.click_pay(&records[7][pay]).await;
    assert_eq!(click.status(), 303);

    let again = tokio::task::spawn_blocking({
        let mut command = blast_command(&app);
        command.arg(&file).arg("--no-wait");
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing new created"));
    assert_eq!(app.count_orders().await, 30);
    assert_eq!(app.fake_stats().await["payment_links"]["total"], 30);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_blast_refuses_a_file_with_a_missing_column_naming_the_line() {
    let app = paylink_testkit::spawn_app_with(paylink_testkit::AppOptions {
        workers: false,
        ..Default::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let file =
        std::env::temp_dir().join(format!("paylink_bad_{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &file,
        format!("external_ref,payer_email,payer_name,product_id,amount_cents\na,a@example.com,A,{product},100\nb,b@example.com,B,{product}\n"),
    )
    .unwrap();

    let output = tokio::task::spawn_blocking({
        let mut command = blast_command(&app);
        command.arg(&file).arg("--no-wait");
        move || command.output().unwrap()
    })
    .await
    .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(app.count_orders().await, 0);
    let _ = std::fs::remove_file(&file);
}

/// `paylink demo` as the README's first command runs it (with fewer orders): nothing else
/// running, every promise checked, exit 0.
#[test]
fn paylink_demo_keeps_every_promise_and_exits_0() {
    let output = paylink()
        .args(["demo", "--orders", "40", "--stripe-failure-rate", "0.1"])
        .env("PAYLINK__QUEUE__URL", "redis://127.0.0.1:9")
        .env(
            "PAYLINK__DATABASE__URL",
            "postgres://nobody@127.0.0.1:9/none",
        )
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("every check passed"), "{stdout}");
    assert!(stdout.contains("links made    40"), "{stdout}");
    assert!(
        stdout.contains("paid          14"),
        "a third of 40 paid: {stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    for word in ["minted", "deactivated", "promise"] {
        assert!(!stdout.contains(word), "{word:?} in {stdout}");
    }
    // It ends with the command to run next, as it can be typed here.
    let last = stdout.lines().last().unwrap_or_default().trim();
    let (program, args) = last.split_once(' ').unwrap_or((last, ""));
    assert_eq!(args, "demo --keep", "{stdout}");
    assert_eq!(
        std::path::Path::new(program).canonicalize().ok(),
        std::path::Path::new(env!("CARGO_BIN_EXE_paylink"))
            .canonicalize()
            .ok(),
        "{program:?} runs this paylink: {stdout}"
    );
}

/// `paylink demo --drop-webhooks 1`: not one delivery arrives, and every payment is recorded
/// all the same, by the payers' return page or the sweep of Stripe's events, as the summary says.
#[test]
fn paylink_demo_records_every_payment_when_no_webhook_arrives() {
    let output = paylink()
        .args(["demo", "--orders", "60", "--drop-webhooks", "1"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("every check passed"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("paid "))
        .unwrap_or_else(|| panic!("a paid line: {stdout}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // paid, by webhook, by the sweep, by the return page, webhooks never delivered
    let [paid, webhook, sweep, returned, dropped] = numbers[..] else {
        panic!("five counts in {line:?}");
    };
    assert_eq!(paid, 20, "{line}");
    assert_eq!(webhook, 0, "{line}");
    assert_eq!(sweep + returned, 20, "{line}");
    assert!(
        sweep >= 10,
        "the payers who closed the tab are found by the sweep: {line}"
    );
    assert_eq!(dropped, 20, "{line}");
}

#[test]
fn paylink_demo_refuses_a_nonsense_order_count() {
    let output = paylink()
        .args(["demo", "--orders", "0"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--orders"));
}
