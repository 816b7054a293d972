//! Hardened for the open internet (part A): CSV exports a spreadsheet cannot run, secret
//! settings that never reach a message, production refusing unsafe settings, and a Stripe
//! stand-in that keeps its secret and stays off the network.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::cli::paylink;
use paylink_testkit::{AppOptions, TestApp, spawn_app_with};

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
async fn security_a_the_blast_csv_export_defuses_formulas_and_is_a_download() {
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

    let response = app
        .client
        .get(app.url(&format!("/v1/blasts/{id}/orders")))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"blast-{id}.csv\"").as_str()
    );
    assert_csv_is_safe(&response.bytes().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_a_paylink_blast_out_defuses_formulas() {
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

    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_csv_is_safe(&std::fs::read(&out).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
