//! `paylink blast` before money moves: `--dry-run` prints the preview and creates nothing; a
//! file whose every row already is an order creates no empty blast and writes that blast's
//! links; at a terminal it asks before creating (`--yes` does not); the `product` column.

use std::ffi::OsStr;
use std::process::Stdio;

use paylink_testkit::{AppOptions, TestApp, spawn_app_with};

use crate::organiser_cli::{blast_on, column, read_out, run, scratch_dir, write_csv};

async fn app_without_workers() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

fn rows(product: &str, amounts: &[i64], tag: &str) -> Vec<String> {
    amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| format!("{tag}-{i},p{i}@example.com,Payer {i},{product},{amount}"))
        .collect()
}

/// `paylink blast` with `args` on the app, which must exit 0: its standard output.
async fn blast_succeeds(app: &TestApp, args: &[&OsStr]) -> String {
    let mut command = blast_on(app);
    command.args(args);
    let output = run(command).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_dry_run_prints_the_preview_and_creates_nothing() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(&dir, &rows(&product, &[60, 45, 60], "dry"));

    let stdout = blast_succeeds(&app, &[file.as_ref(), "--dry-run".as_ref()]).await;

    assert!(
        stdout.contains("3 row(s): 3 new order(s), 0 already exist"),
        "{stdout}"
    );
    assert!(
        stdout.contains("USD: 3 order(s) totalling $1.65 (smallest $0.45, largest $0.60)"),
        "{stdout}"
    );
    // The file's lines: the header is line 1, so the rows are lines 2 to 4.
    assert!(
        stdout.contains("warning (looks_like_whole_units)") && stdout.contains("(line(s) 2, 3, 4)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning (below_minimum)") && stdout.contains("(line(s) 3)"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: nothing was created"), "{stdout}");
    assert_eq!(app.count_orders().await, 0);
    assert_eq!(app.count_rows("blasts").await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_of_rows_already_in_another_blast_names_it_and_writes_its_links() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(&dir, &rows(&product, &[4500, 4600, 4700], "june"));
    let first = blast_succeeds(&app, &[file.as_ref(), "--no-wait".as_ref()]).await;
    let first_id = blast_id(&first);
    let copy = dir.join("june-copy.csv");
    std::fs::copy(&file, &copy).unwrap();
    let out = dir.join("links.csv");

    let out_args = ["--no-wait".as_ref(), "--out".as_ref(), out.as_os_str()];
    let stdout = blast_succeeds(&app, &[&[copy.as_os_str()], &out_args[..]].concat()).await;

    assert!(
        stdout.contains(&format!("blast {first_id} \"june\": 3 orders")),
        "{stdout}"
    );
    assert!(stdout.contains("nothing new created"), "{stdout}");
    assert_eq!(app.count_rows("blasts").await, 1);
    let (headers, records) = read_out(&out);
    assert_eq!(records.len(), 3);
    let pay = column(&headers, "pay_url");
    assert!(records.iter().all(|r| r[pay].contains("/pay/")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The id in the closing `blast bl_… "name": N orders` line.
fn blast_id(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("blast bl_"))
        .unwrap_or_else(|| panic!("a blast line in {stdout}"));
    line.split(' ').nth(1).unwrap().to_owned()
}

/// `script` gives the command a terminal for its standard input, as a person's shell would.
fn at_a_terminal(app: &TestApp, args: &str) -> std::process::Command {
    let probe = blast_on(app);
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec"])
        .arg(format!(
            "{} blast {args}",
            paylink_testkit::process::paylink_binary().display()
        ))
        .arg("/dev/null")
        .envs(
            probe
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

async fn answer(mut command: std::process::Command, typed: &'static str) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(typed.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_at_a_terminal_asks_first_and_no_creates_nothing() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(&dir, &rows(&product, &[4500, 4500], "ask"));

    let declined = answer(
        at_a_terminal(&app, &format!("{} --no-wait", file.display())),
        "n\n",
    )
    .await;
    let declined_out = String::from_utf8_lossy(&declined.stdout).into_owned();
    assert_eq!(app.count_orders().await, 0, "{declined_out}");
    let accepted = answer(
        at_a_terminal(&app, &format!("{} --no-wait", file.display())),
        "y\n",
    )
    .await;
    let accepted_out = String::from_utf8_lossy(&accepted.stdout).into_owned();

    assert!(
        declined_out.contains("Create 2 orders totalling $90.00? [y/N]"),
        "{declined_out}"
    );
    assert!(
        declined_out.contains("nothing was created"),
        "{declined_out}"
    );
    assert_ne!(declined.status.code(), Some(0));
    assert!(
        accepted_out.contains("Create 2 orders totalling $90.00? [y/N]"),
        "{accepted_out}"
    );
    assert_eq!(accepted.status.code(), Some(0), "{accepted_out}");
    assert_eq!(app.count_orders().await, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_with_yes_at_a_terminal_does_not_ask() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let dir = scratch_dir();
    let file = write_csv(&dir, &rows(&product, &[4500], "yes"));

    let output = answer(
        at_a_terminal(&app, &format!("{} --no-wait --yes", file.display())),
        "",
    )
    .await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("[y/N]"), "{stdout}");
    assert_eq!(app.count_orders().await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_reads_a_product_column_naming_products_by_name() {
    let app = app_without_workers().await;
    let product = app
        .create_named_product("Tournament fee", "tournament")
        .await;
    let dir = scratch_dir();
    let file = dir.join("cup.csv");
    std::fs::write(
        &file,
        "external_ref,payer_email,payer_name,product,amount_cents\n\
         cup-0,a@example.com,A,tournament fee,4500\n\
         cup-1,b@example.com,B,no such fee,4500\n",
    )
    .unwrap();
    let mut refused = blast_on(&app);
    refused.arg(&file).arg("--no-wait");
    let refused = run(refused).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 3: product_id: no product \"no such fee\""),
        "{stderr}"
    );
    std::fs::write(
        &file,
        "external_ref,payer_email,payer_name,product,amount_cents\n\
         cup-0,a@example.com,A,tournament fee,4500\n",
    )
    .unwrap();

    let out = dir.join("links.csv");
    let out_args = ["--no-wait".as_ref(), "--out".as_ref(), out.as_os_str()];
    blast_succeeds(&app, &[&[file.as_os_str()], &out_args[..]].concat()).await;

    let (headers, records) = read_out(&out);
    assert_eq!(records.len(), 1);
    let order = app.get_order(&records[0][column(&headers, "id")]).await;
    assert_eq!(order["product_id"], product);
    let _ = std::fs::remove_dir_all(&dir);
}
