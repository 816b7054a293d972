//! `paylink blast` as an organiser runs it, from a laptop whose environment is not the
//! deployment's: the pay URLs it writes, what it says before it starts, and how it reports a
//! spreadsheet's mistakes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use paylink_testkit::TestApp;

use crate::cli::paylink;

/// A public base URL the deployment does not use: pay URLs must never be built from it.
const LAPTOP_BASE_URL: &str = "http://laptop.invalid:9999";

/// A fresh directory for one test's files.
pub(crate) fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "paylink_organiser_{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `paylink blast` on the app's database and queue, with a public base URL of its own that
/// differs from the intake's.
pub(crate) fn blast_on(app: &TestApp) -> Command {
    let mut command = paylink();
    command
        .arg("blast")
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", &app.settings.database.url)
        .env(
            "PAYLINK__QUEUE__URL",
            app.settings.queue.url.clone().unwrap_or_default(),
        )
        .env("PAYLINK__QUEUE__NAMESPACE", &app.namespace)
        .env("PAYLINK__PUBLIC_BASE_URL", LAPTOP_BASE_URL)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub(crate) async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

pub(crate) fn write_csv(dir: &Path, rows: &[String]) -> PathBuf {
    let file = dir.join("june.csv");
    let mut csv = String::from("external_ref,payer_email,payer_name,product_id,amount_cents\n");
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    std::fs::write(&file, csv).unwrap();
    file
}

/// The `--out` file as header → column index and records.
pub(crate) fn read_out(out: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(out).unwrap();
    let headers = reader.headers().unwrap().clone();
    let records = reader.records().map(|r| r.unwrap()).collect();
    (headers, records)
}

pub(crate) fn column(headers: &csv::StringRecord, name: &str) -> usize {
    headers
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("a {name} column in {headers:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_cli_writes_the_intakes_pay_urls_not_its_own_environments() {
    writes_the_intakes_pay_urls(|_| {}).await;
}

/// The literal case: a laptop with no `PAYLINK__PUBLIC_BASE_URL` at all, where the
/// CLI's own would be `config/default.toml`'s `http://127.0.0.1:8080`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_cli_without_a_public_base_url_of_its_own_writes_the_intakes_pay_urls() {
    writes_the_intakes_pay_urls(|command| {
        command.env_remove("PAYLINK__PUBLIC_BASE_URL");
    })
    .await;
}

/// `paylink blast --out` on a fresh app, its command changed by `laptop` first: every pay URL
/// written is under the intake's public base URL, and nothing warns.
async fn writes_the_intakes_pay_urls(laptop: impl FnOnce(&mut Command)) {
    let app = paylink_testkit::spawn_app().await;
    assert_ne!(app.settings.public_base_url, "http://127.0.0.1:8080");
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let rows: Vec<String> = (0..3)
        .map(|i| format!("june-{i},p{i}@example.com,Payer {i},{product},{}", 4500 + i))
        .collect();
    let file = write_csv(&dir, &rows);
    let out = dir.join("result.csv");

    let mut command = blast_on(&app);
    laptop(&mut command);
    command.arg(&file).arg("--out").arg(&out);
    let output = run(command).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let (headers, records) = read_out(&out);
    let pay = column(&headers, "pay_url");
    assert_eq!(records.len(), 3);
    let intake_pay = format!("{}/pay/", app.settings.public_base_url);
    for record in &records {
        assert!(
            record[pay].starts_with(&intake_pay),
            "{} is under the intake's {intake_pay}",
            &record[pay]
        );
    }
    assert!(
        !stderr.contains("warning"),
        "the intake's URL was found: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The app's database URL with a password in it (the test servers trust local connections, so
/// it is accepted and ignored): it must never be printed.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    match rest.split_once('@') {
        Some((user, host)) => format!("{scheme}://{user}:hunter2-not-printed@{host}"),
        None => format!("{scheme}://postgres:hunter2-not-printed@{rest}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_cli_says_which_database_and_base_url_before_it_starts() {
    let app = paylink_testkit::spawn_app_with(paylink_testkit::AppOptions {
        workers: false,
        ..Default::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(&dir, &[format!("j-1,p@example.com,Pat,{product},4500")]);
    let url = with_password(&app.settings.database.url);

    let mut command = blast_on(&app);
    command
        .env("PAYLINK__DATABASE__URL", &url)
        .arg(&file)
        .arg("--no-wait");
    let output = run(command).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let redacted = paylink_core::store::redact_url(&url);
    let database = stdout
        .find(&format!("database: {redacted}"))
        .unwrap_or_else(|| panic!("the database {redacted} is named: {stdout}"));
    let base = stdout
        .find(&format!(
            "public base URL: {}",
            app.settings.public_base_url
        ))
        .unwrap_or_else(|| panic!("the intake's base URL is named: {stdout}"));
    let started = stdout.find("blast bl_").expect("the blast's line");
    assert!(database < started && base < started, "{stdout}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "{stdout}\n{stderr}"
    );

    // A database no intake has started on: the command's own setting, with a warning.
    sea_orm::ConnectionTrait::execute_unprepared(&app.db, "DELETE FROM deployment")
        .await
        .unwrap();
    let file = write_csv(&dir, &[format!("j-2,p@example.com,Pat,{product},4500")]);
    let mut command = blast_on(&app);
    command.arg(&file).arg("--no-wait");
    let output = run(command).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("public base URL: {LAPTOP_BASE_URL}")),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning") && stderr.contains("PAYLINK__PUBLIC_BASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_cli_reports_every_bad_row_by_line_and_column_and_creates_nothing() {
    let app = paylink_testkit::spawn_app_with(paylink_testkit::AppOptions {
        workers: false,
        ..Default::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(
        &dir,
        &[
            format!("ok-1,a@example.com,A,{product},4500"),
            format!("bad-1,b@example.com,B,{product},$45.00"),
            format!("bad-2,not-an-email,C,{product},4500"),
            format!("ok-2,d@example.com,D,{product},4500"),
            "bad-3,e@example.com,E,prd_nosuch,4500".to_owned(),
        ],
    );

    let mut command = blast_on(&app);
    command.arg(&file).arg("--no-wait");
    let output = run(command).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = |n: u32| {
        stderr
            .lines()
            .find(|l| l.contains(&format!("line {n}:")))
            .unwrap_or_else(|| panic!("line {n} is reported: {stderr}"))
            .to_owned()
    };
    let amount = line(3);
    assert!(
        amount.contains("amount_cents") && amount.contains("$45.00"),
        "{amount}"
    );
    let email = line(4);
    assert!(
        email.contains("payer_email") && email.contains("not-an-email"),
        "{email}"
    );
    assert!(
        line(6).contains("product_id") && line(6).contains("prd_nosuch"),
        "{stderr}"
    );
    for good in ["line 2:", "line 5:"] {
        assert!(!stderr.contains(good), "{good} is fine: {stderr}");
    }
    assert!(!stderr.contains("configuration error"), "{stderr}");
    assert!(!stderr.contains("payer.email"), "{stderr}");
    assert_eq!(app.count_orders().await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn blast_cli_exits_2_naming_a_missing_file() {
    let missing = std::env::temp_dir().join(format!(
        "paylink_missing_{}/june.csv",
        uuid::Uuid::new_v4().simple()
    ));

    let output = paylink()
        .arg("blast")
        .arg(&missing)
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", "sqlite::memory:")
        .stderr(Stdio::piped())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(!stderr.contains("configuration error"), "{stderr}");
}

/// Refs in an order no sort would produce, so only the input order explains the result's.
fn shuffled_refs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("r{:02}-{}", (i * 7) % n, i))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_results_list_order_ids_in_input_order_and_give_failed_rows_no_pay_url_in_csv() {
    let app = paylink_testkit::spawn_app().await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let refs = shuffled_refs(20);
    // Stripe refuses 10 cents (under its minimum charge): that order's link fails at once.
    let failing = 5;
    let rows: Vec<String> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let amount = if i == failing { 10 } else { 4500 };
            format!("{r},p{i}@example.com,Payer {i},{product},{amount}")
        })
        .collect();
    let file = write_csv(&dir, &rows);
    let out = dir.join("result.csv");

    let mut command = blast_on(&app);
    command.arg(&file).arg("--out").arg(&out);
    let output = run(command).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "one link failed: {stderr}");
    let (headers, records) = read_out(&out);
    let (ext, id, pay, state) = (
        column(&headers, "external_ref"),
        column(&headers, "id"),
        column(&headers, "pay_url"),
        column(&headers, "link_state"),
    );
    let listed: Vec<&str> = records.iter().map(|r| &r[ext]).collect();
    assert_eq!(listed, refs, "--out keeps the file's order");
    for (i, record) in records.iter().enumerate() {
        let order: serde_json::Value = app
            .get_json(&format!("/v1/orders/{}", &record[id]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(order["external_ref"], refs[i], "the id is the row's order");
        if i == failing {
            assert_eq!(&record[state], "failed");
            assert_eq!(&record[pay], "", "a failed row is not handed out");
        } else {
            assert_eq!(&record[state], "active");
            assert!(record[pay].contains("/pay/"), "{record:?}");
        }
    }

    let blast_id = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("bl_"))
        .unwrap()
        .to_owned();
    let page: serde_json::Value = app
        .get_json(&format!("/v1/blasts/{blast_id}/orders?per_page=1000"))
        .await
        .json()
        .await
        .unwrap();
    let data = page["data"].as_array().unwrap();
    let listed: Vec<&str> = data
        .iter()
        .map(|o| o["external_ref"].as_str().unwrap())
        .collect();
    assert_eq!(listed, refs, "the API keeps the blast's order");
    assert_eq!(data[0]["id"].as_str(), Some(&records[0][id]));
    assert_eq!(data[failing]["link_state"], "failed");
    assert!(data[0]["pay_url"].as_str().unwrap().contains("/pay/"));

    let csv = app.blast_csv(&blast_id).await.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&csv[..]);
    let exported: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[ext].to_owned(), r[id].to_owned(), r[pay].to_owned())
        })
        .collect();
    let written: Vec<(String, String, String)> = records
        .iter()
        .map(|r| (r[ext].to_owned(), r[id].to_owned(), r[pay].to_owned()))
        .collect();
    assert_eq!(exported, written, "the API's CSV is --out's");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `paylink migrate` on an in-memory database with `env` added: it must exit 2; what it printed
/// on stderr.
fn migrate_refused(env: &[(&str, &str)]) -> String {
    let output = paylink()
        .arg("migrate")
        .env("PAYLINK__DATABASE__URL", "sqlite::memory:")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn settings_a_mistyped_variable_exits_2_naming_the_setting_meant() {
    let stderr = migrate_refused(&[
        (
            "PAYLINK__DATABSE__URL",
            "postgres://u:value-never-printed@h/db",
        ),
        ("PAYLINK__STRIPE__RATE_LIMT_PER_SEC", "5"),
    ]);
    assert!(
        stderr.contains("PAYLINK__DATABSE__URL (did you mean PAYLINK__DATABASE__URL?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "PAYLINK__STRIPE__RATE_LIMT_PER_SEC (did you mean PAYLINK__STRIPE__RATE_LIMIT_PER_SEC?)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("value-never-printed"), "{stderr}");
}

/// `PAYLINK_ENV=prod` would have skipped the production checks without a word; it exits 2
/// naming the environments paylink knows.
#[test]
fn settings_an_unknown_environment_exits_2_naming_the_valid_ones() {
    let stderr = migrate_refused(&[("PAYLINK_ENV", "prod")]);
    assert!(
        stderr.contains("PAYLINK_ENV=\"prod\"")
            && stderr.contains("development, test, staging, production"),
        "{stderr}"
    );
}

/// docker-compose.yml's spelling (`PAYLINK_ADMIN_TOKEN`) set in paylink's own environment is
/// never read: it exits 2 naming the variable to write instead, never its value. paylink's own
/// single-underscore variables (`PAYLINK_ENV`, `PAYLINK_TEST_LOG`) are not named.
#[test]
fn settings_a_single_underscore_spelling_exits_2_naming_the_double_one() {
    let stderr = migrate_refused(&[
        ("PAYLINK_ADMIN_TOKEN", "token-never-printed"),
        ("PAYLINK_ENV", "development"),
        ("PAYLINK_TEST_LOG", "error"),
    ]);
    assert!(
        stderr.contains(
            "write PAYLINK__ADMIN__TOKEN instead of PAYLINK_ADMIN_TOKEN (docs/settings.md)"
        ),
        "only the compose spelling is named: {stderr}"
    );
    assert!(!stderr.contains("token-never-printed"), "{stderr}");
}

#[test]
fn settings_serve_without_a_webhook_secret_warns_and_names_the_dashboard() {
    warns_of_no_webhook_secret_and_names_the_dashboard("serve");
}

#[test]
fn settings_run_without_a_webhook_secret_warns_and_names_the_dashboard() {
    warns_of_no_webhook_secret_and_names_the_dashboard("run");
}

/// `paylink serve` or `run` (the intake, with the workers for `run`) started with no webhook
/// secret: it still starts, naming the dashboard, and warns that Stripe's events get 503.
fn warns_of_no_webhook_secret_and_names_the_dashboard(command: &str) {
    let dir = scratch_dir();
    let port = paylink_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = paylink()
        .arg(command)
        .current_dir(&dir)
        .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("PAYLINK__PUBLIC_BASE_URL", &base)
        .env("PAYLINK__ADMIN__TOKEN", "change-me")
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let line = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = line.unwrap_or_else(|| panic!("{command} started: {stderr}"));
    assert!(line.contains(&format!("{base}/admin")), "{line}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("PAYLINK__STRIPE__WEBHOOK_SECRETS"))
        .unwrap_or_else(|| panic!("{command}: a warning names the missing secret: {stderr}"));
    assert!(warning.contains("503"), "{warning}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stand_in_links_live_under_its_public_url_not_its_bind_address() {
    let mut fake = paylink_testkit::Running(
        paylink()
            .args([
                "fake-stripe",
                "--addr",
                "127.0.0.1:0",
                "--public-url",
                "http://fake-stripe.test:12111/",
            ])
            .spawn()
            .unwrap(),
    );
    let stdout = std::io::BufReader::new(fake.0.stdout.take().unwrap());
    let line = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .expect("the stand-in started");
    let api = line.rsplit(' ').next().unwrap().to_owned();

    let link: serde_json::Value = reqwest::Client::new()
        .post(format!("{api}v1/payment_links"))
        .bearer_auth("sk_test_x")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            "line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=2500\
             &line_items[0][price_data][product_data][name]=Dues&line_items[0][quantity]=1",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let url = link["url"].as_str().unwrap_or_else(|| panic!("{link}"));
    let id = link["id"].as_str().unwrap();
    assert_eq!(url, format!("http://fake-stripe.test:12111/b/{id}"));
    assert!(api.starts_with("http://127.0.0.1:"), "{api}");
}

#[test]
fn stand_in_refuses_a_public_url_that_is_not_http() {
    let output = paylink()
        .args([
            "fake-stripe",
            "--addr",
            "127.0.0.1:0",
            "--public-url",
            "fake-stripe:12111",
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--public-url"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_log_which_database_they_open_without_its_password() {
    let app = paylink_testkit::spawn_app_with(paylink_testkit::AppOptions {
        workers: false,
        ..Default::default()
    })
    .await;
    let url = with_password(&app.settings.database.url);

    let mut command = paylink();
    command
        .arg("migrate")
        .env("PAYLINK__DATABASE__URL", &url)
        .env("PAYLINK__LOG__LEVEL", "info")
        .stderr(Stdio::piped());
    let output = run(command).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let opening = stderr
        .lines()
        .find(|l| l.contains("opening the database"))
        .unwrap_or_else(|| panic!("the database is logged: {stderr}"));
    assert!(
        opening.contains(&paylink_core::store::redact_url(&url)),
        "{opening}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// A Redis URL with a password. The test Redis has none and refuses the login, which does not
/// matter here: the line is logged before Redis is reached (`Engine::connect` in
/// `src/startup.rs`).
const QUEUE_URL_WITH_PASSWORD: &str = "redis://:hunter2@127.0.0.1:6379";

/// `paylink work` and `paylink run` log the queue they open, its password redacted.
#[test]
fn commands_log_which_queue_they_open_without_its_password() {
    for command in ["work", "run"] {
        let dir = scratch_dir();
        let port = paylink_testkit::free_port();
        let mut child = paylink()
            .arg(command)
            .current_dir(&dir)
            .env("PAYLINK__QUEUE__URL", QUEUE_URL_WITH_PASSWORD)
            .env(
                "PAYLINK__QUEUE__NAMESPACE",
                format!("paylink_queue_log_{}", uuid::Uuid::new_v4().simple()),
            )
            .env("PAYLINK__LOG__LEVEL", "info")
            .env("PAYLINK__HTTP__ADDR", format!("127.0.0.1:{port}"))
            .env("PAYLINK__ADMIN__TOKEN", "change-me")
            .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
            .env("PAYLINK__STRIPE__WEBHOOK_SECRETS", "whsec_queue_log")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut lines = std::io::BufRead::lines(stderr).map_while(Result::ok);
        let mut logged = Vec::new();
        let queue_line = lines
            .by_ref()
            .inspect(|l| logged.push(l.clone()))
            .find(|l| l.contains("connecting to the queue"));
        let _ = child.kill();
        let _ = child.wait();
        logged.extend(lines);

        let logged = logged.join("\n");
        let queue_line = queue_line.unwrap_or_else(|| panic!("{command} logs the queue: {logged}"));
        assert!(
            queue_line.contains(&paylink_core::store::redact_url(QUEUE_URL_WITH_PASSWORD)),
            "{command}: {queue_line}"
        );
        assert!(!logged.contains("hunter2"), "{command}: {logged}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn blast_cli_refuses_a_misspelt_column_naming_the_one_meant() {
    let dir = scratch_dir();
    let file = dir.join("june.csv");
    std::fs::write(
        &file,
        "external_ref,payer_email,payer_name,product_id,amount_cents,curency\n\
         j-1,p@example.com,Pat,prd_1,4500,eur\n",
    )
    .unwrap();

    let output = paylink()
        .arg("blast")
        .arg(&file)
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", "sqlite::memory:")
        .stderr(Stdio::piped())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"curency\" (did you mean currency?)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn blast_cli_run_from_another_folder_creates_no_new_database() {
    let dir = scratch_dir();
    let file = write_csv(&dir, &["j-1,p@example.com,Pat,prd_1,4500".to_owned()]);

    let output = paylink()
        .arg("blast")
        .arg(&file)
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = dir.join("data/paylink.db");
    assert!(
        stderr.contains(&expected.display().to_string())
            && stderr.contains("PAYLINK__DATABASE__URL"),
        "{stderr}"
    );
    assert!(!expected.exists(), "no empty database was created");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `paylink settings` prints the table docs/settings.md holds, with nothing else needed: no
/// database, no secrets.
#[test]
fn settings_paylink_settings_prints_the_table_of_docs_settings_md() {
    let output = paylink()
        .arg("settings")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.starts_with("| variable | setting | type | default | meaning |"));
    assert!(printed.contains("| `PAYLINK__HTTP__REQUEST_TIMEOUT_SECS` |"));
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/settings.md")).unwrap();
    assert!(
        docs.contains(&printed),
        "docs/settings.md differs from the command's output"
    );
}
