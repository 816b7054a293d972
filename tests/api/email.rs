//! Mail to payers (docs/email.md), against a real SMTP server over TCP: the project's mail
//! sink (mail-sink/), which can refuse a recipient with 550, answer 421, or drop the connection
//! after DATA. Each payer gets one mail with their own pay URL; a refused address is rejected
//! with the server's reply and not mailed again; a 421 or a dropped connection is tried again
//! with the same Message-ID; a paid order gets nothing.

use std::collections::HashMap;
use std::time::Duration;

use mail_sink::{MailSink, SinkConfig};
use serde_json::{Value, json};

use paylink_testkit::{AppOptions, TestApp, eventually, spawn_app_with};

const FROM: &str = "Riverside League <billing@riverside.example.org>";

async fn sink() -> MailSink {
    MailSink::start(SinkConfig::default()).await.unwrap()
}

/// An app that mails through `sink`, at `rate` mails a second.
async fn app_mailing(sink: &MailSink, rate: u32) -> TestApp {
    app_mailing_with(sink, rate, true).await
}

/// As [`app_mailing`]; without `workers`, the mails wait for `paylink work` processes.
async fn app_mailing_with(sink: &MailSink, rate: u32, workers: bool) -> TestApp {
    spawn_app_with(AppOptions {
        workers,
        settings: vec![
            ("email.smtp_url", json!(sink.smtp_url())),
            ("email.from", json!(FROM)),
            ("email.rate_per_sec", json!(rate)),
        ],
        ..AppOptions::default()
    })
    .await
}

/// `paylink work` processes' mail settings (secrets come from the environment only).
fn worker_mail_env(sink: &MailSink, rate: u32) -> Vec<(&'static str, String)> {
    vec![
        ("PAYLINK__EMAIL__SMTP_URL", sink.smtp_url()),
        ("PAYLINK__EMAIL__FROM", FROM.to_owned()),
        ("PAYLINK__EMAIL__RATE_PER_SEC", rate.to_string()),
    ]
}

fn spawn_mailing_worker(app: &TestApp, env: &[(&'static str, String)]) -> paylink_testkit::Running {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.spawn_worker_process_with(&env)
}

/// A blast of `n` orders whose payers are mailed; returns its id.
async fn mailed_blast(app: &TestApp, product: &str, n: usize, tag: &str) -> String {
    let orders: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "external_ref": format!("{tag}-{i}"),
                "product_id": product,
                "amount_cents": 4500,
                "payer": {"email": format!("{tag}{i}@example.com"), "name": format!("Payer {i}")},
            })
        })
        .collect();
    let response = app
        .post_json(
            "/v1/blasts",
            &json!({"name": tag, "orders": orders, "send_email": true}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

fn order(product: &str, external_ref: &str, email: &str, name: &str) -> Value {
    json!({
        "external_ref": external_ref,
        "product_id": product,
        "amount_cents": 4500,
        "payer": {"email": email, "name": name},
        "send_email": true,
    })
}

/// Creates an order whose payer is mailed; answers it as the API shows it.
async fn mailed_order(
    app: &TestApp,
    product: &str,
    external_ref: &str,
    email: &str,
    name: &str,
) -> Value {
    let response = app
        .post_json("/v1/orders", &order(product, external_ref, email, name))
        .await;
    assert_eq!(response.status(), 201, "order {external_ref} created");
    response.json().await.unwrap()
}

/// The order's mails once one of them is in `state`.
async fn mail_in_state(app: &TestApp, order_id: &str, state: &str, within: Duration) -> Value {
    eventually(within, || async {
        let found = app.get_order(order_id).await;
        let emails = found["emails"].as_array()?.clone();
        emails
            .iter()
            .any(|m| m["state"] == state)
            .then_some(Value::Array(emails))
    })
    .await
    .unwrap_or_else(|| panic!("no mail of order {order_id} became {state} within {within:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blast_with_send_email_mails_every_payer_their_own_pay_url_once() {
    let sink = sink().await;
    let app = app_mailing(&sink, 100).await;
    let product = app.create_named_product("April dues", "monthly").await;
    let orders: Vec<Value> = (0..300)
        .map(|i| {
            let mut o = order(
                &product,
                &format!("mail-{i}"),
                &format!("parent{i}@example.com"),
                &format!("Parent {i}"),
            );
            o.as_object_mut().unwrap().remove("send_email");
            o
        })
        .collect();
    let response = app
        .post_json(
            "/v1/blasts",
            &json!({"name": "April", "orders": orders, "send_email": true,
                    "email_message": "Dues are due by the 10th."}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let created: Value = response.json().await.unwrap();
    let blast_id = created["id"].as_str().unwrap().to_owned();

    sink.wait_for(300, Duration::from_secs(120)).await.unwrap();
    app.drain_jobs().await;
    let received = sink.messages();
    assert_eq!(received.len(), 300, "one mail per payer, no more");

    // Each payer's mail holds their own pay URL, in both parts, and the organiser's message.
    let page: Value = app
        .get_json(&format!("/v1/blasts/{blast_id}/orders?per_page=1000"))
        .await
        .json()
        .await
        .unwrap();
    let pay_urls: HashMap<String, String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["payer_email"].as_str().unwrap().to_owned(),
                o["pay_url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(pay_urls.len(), 300);
    for (address, pay_url) in &pay_urls {
        let mails = sink.messages_to(address);
        assert_eq!(mails.len(), 1, "{address}");
        let parsed = &mails[0].parsed;
        let text = parsed.text.as_deref().unwrap_or_default();
        let html = parsed.html.as_deref().unwrap_or_default();
        assert!(text.contains(pay_url.as_str()), "{address}: {text}");
        assert!(html.contains(pay_url.as_str()), "{address}: {html}");
        assert!(text.contains("Dues are due by the 10th."), "{text}");
        assert!(
            text.contains("$45.00") || text.contains("April dues"),
            "{text}"
        );
        // The message the API shows is the one that arrived.
        let order = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["payer_email"] == address.as_str())
            .unwrap();
        let shown = app.get_order(order["id"].as_str().unwrap()).await;
        let emails = shown["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 1, "{shown}");
        assert_eq!(emails[0]["state"], "sent");
        assert_eq!(emails[0]["to"], address.as_str());
        assert_eq!(
            parsed.message_id.as_deref().map(|id| format!("<{id}>")),
            emails[0]["message_id"].as_str().map(str::to_owned),
            "{:?}",
            parsed.headers
        );
    }
    let blast = app.get_blast(&blast_id).await;
    assert_eq!(blast["counts"]["emails"]["sent"], 300, "{blast}");
    assert_eq!(blast["counts"]["emails"]["rejected"], 0, "{blast}");
    assert!(
        received
            .iter()
            .all(|m| m.mail_from == "billing@riverside.example.org")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_is_rejected_with_the_reply_and_never_mailed_again() {
    let sink = sink().await;
    sink.refuse_recipient("gone@example.com");
    let app = app_mailing(&sink, 10).await;
    let product = app.create_product("monthly").await;
    let created = mailed_order(&app, &product, "r-1", "gone@example.com", "Gone").await;
    let id = created["id"].as_str().unwrap().to_owned();

    let emails = mail_in_state(&app, &id, "rejected", Duration::from_secs(30)).await;
    assert!(
        emails[0]["reply"].as_str().unwrap().contains("550"),
        "the server's reply is kept: {emails}"
    );
    assert_eq!(sink.count(), 0);
    assert_eq!(sink.refusals().len(), 1);

    // Asked again, the rejected address is not tried again.
    let again = app
        .post_json(&format!("/v1/orders/{id}/send_email"), &json!({}))
        .await;
    assert_eq!(again.status(), 202);
    let emails = mail_in_state(&app, &id, "suppressed", Duration::from_secs(30)).await;
    assert_eq!(emails.as_array().unwrap().len(), 2);
    assert_eq!(sink.refusals().len(), 1, "no second try at the server");
    let blast_less = app.get_order(&id).await;
    assert_eq!(blast_less["status"], "pending");
    // The host application is told.
    assert_eq!(
        app.count_rows("outbound_events WHERE event_type = 'order.email_rejected'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_is_tried_again_and_then_sent() {
    let sink = sink().await;
    sink.defer_next(1);
    let app = app_mailing(&sink, 10).await;
    let product = app.create_product("monthly").await;
    let created = mailed_order(&app, &product, "d-1", "later@example.com", "Later").await;
    let id = created["id"].as_str().unwrap();
    let deferred = mail_in_state(&app, id, "deferred", Duration::from_secs(30)).await;
    assert!(
        deferred[0]["reply"].as_str().unwrap().contains("421"),
        "{deferred}"
    );
    // The shipped backoff: 10 s before the second try.
    let sent = mail_in_state(&app, id, "sent", Duration::from_secs(40)).await;
    assert_eq!(sent[0]["attempts"], Value::Null, "attempts are not shown");
    assert_eq!(sink.deferrals().len(), 1);
    assert_eq!(sink.messages_to("later@example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_after_data_is_tried_again_with_the_same_message_id() {
    let sink = sink().await;
    sink.drop_after_data_next(1);
    let app = app_mailing(&sink, 10).await;
    let product = app.create_product("monthly").await;
    let created = mailed_order(&app, &product, "x-1", "flaky@example.com", "Flaky").await;
    let id = created["id"].as_str().unwrap();
    let sent = mail_in_state(&app, id, "sent", Duration::from_secs(45)).await;
    let arrived = sink.messages_to("flaky@example.com");
    assert_eq!(arrived.len(), 2, "the lost reply's message, then the retry");
    assert!(arrived[0].reply_lost && !arrived[1].reply_lost);
    assert_eq!(arrived[0].parsed.message_id, arrived[1].parsed.message_id);
    assert_eq!(
        arrived[1]
            .parsed
            .message_id
            .as_deref()
            .map(|id| format!("<{id}>")),
        sent[0]["message_id"].as_str().map(str::to_owned)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_is_mailed_nothing_and_send_email_is_409() {
    let sink = sink().await;
    let app = app_mailing(&sink, 10).await;
    let paid = app.minted_order("monthly", 4500).await;
    let id = paid["id"].as_str().unwrap();
    app.complete_checkout(paid["stripe_payment_link_id"].as_str().unwrap(), "paid")
        .await;
    eventually(Duration::from_secs(20), || async {
        (app.get_order(id).await["status"] == "paid").then_some(())
    })
    .await
    .expect("paid");
    let response = app
        .post_json(&format!("/v1/orders/{id}/send_email"), &json!({}))
        .await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"].as_str().unwrap().contains("paid"),
        "{error}"
    );
    app.drain_jobs().await;
    assert_eq!(sink.count(), 0);
    assert_eq!(app.get_order(id).await["emails"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_mail_while_sending_is_off_is_422_naming_the_setting() {
    let app = spawn_app_with(AppOptions::default()).await;
    let product = app.create_product("monthly").await;
    let response = app
        .post_json(
            "/v1/orders",
            &order(&product, "off-1", "a@example.com", "A"),
        )
        .await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PAYLINK__EMAIL__SMTP_URL"),
        "{error}"
    );
    assert_eq!(app.count_orders().await, 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_named_with_markup_appears_escaped_in_the_html_part() {
    let sink = sink().await;
    let app = app_mailing(&sink, 10).await;
    let product = app.create_product("monthly").await;
    app.post_json(
        "/v1/orders",
        &order(&product, "m-1", "bob@example.com", "<b>Bob</b> & Co"),
    )
    .await;
    let mail = sink.wait_for(1, Duration::from_secs(30)).await.unwrap();
    let html = mail[0].parsed.html.as_deref().unwrap_or_default();
    let text = mail[0].parsed.text.as_deref().unwrap_or_default();
    assert!(html.contains("&lt;b&gt;Bob&lt;/b&gt; &amp; Co"), "{html}");
    assert!(!html.contains("<b>Bob</b>"), "{html}");
    assert!(
        text.contains("<b>Bob</b> & Co"),
        "the text part as typed: {text}"
    );
}

/// A template that does not render stops `paylink work` at start-up, exit 2, naming its file
/// and line: never a failure at send time.
#[test]
fn a_broken_template_stops_start_up_naming_its_file_and_line() {
    let dir = tempfile_dir("paylink-broken-template");
    let data = tempfile_dir("paylink-broken-template-db");
    std::fs::write(
        dir.join("pay_link.txt"),
        "Hello {{ payer_name }},\n\nPay here: {{ pay_url }}\nFrom {{ organisaton }}\n",
    )
    .unwrap();
    let output = crate::cli::paylink()
        .arg("work")
        .env(
            "PAYLINK__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", data.join("paylink.db").display()),
        )
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/")
        .env("PAYLINK__EMAIL__SMTP_URL", "smtp://127.0.0.1:9")
        .env("PAYLINK__EMAIL__FROM", FROM)
        .env("PAYLINK__EMAIL__TEMPLATES_DIR", &dir)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let file = dir.join("pay_link.txt");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("organisaton"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&data);
}

fn tempfile_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An SMTP server that is not the project's own: Debian's aiosmtpd (python3-aiosmtpd, which
/// `.ci/run` installs), writing what it takes to a Maildir. Each payer's mail holds their own
/// pay URL in both parts, as Python's `email` package reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payers_are_mailed_through_aiosmtpd_too() {
    const PYTHON: &str = "/usr/bin/python3";
    let scratch = tempfile_dir("paylink-aiosmtpd");
    // aiosmtpd's Mailbox makes the Maildir (with its new/, cur/, tmp/) only when it is absent.
    let maildir = scratch.join("maildir");
    let port = paylink_testkit::free_port();
    let mut server = std::process::Command::new(PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Debian's python3-aiosmtpd is installed (.ci/run installs it)");
    let listening = eventually(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await;
    assert!(listening.is_some(), "aiosmtpd did not listen on {port}");
    let app = spawn_app_with(AppOptions {
        settings: vec![
            ("email.smtp_url", json!(format!("smtp://127.0.0.1:{port}"))),
            ("email.from", json!(FROM)),
        ],
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let mut pay_urls = HashMap::new();
    for i in 0..5 {
        let address = format!("family{i}@example.com");
        let created: Value = app
            .post_json(
                "/v1/orders",
                &order(
                    &product,
                    &format!("aio-{i}"),
                    &address,
                    &format!("Family {i}"),
                ),
            )
            .await
            .json()
            .await
            .unwrap();
        pay_urls.insert(address, created["pay_url"].as_str().unwrap().to_owned());
    }
    let new = maildir.join("new");
    let arrived = eventually(Duration::from_secs(60), || async {
        let n = std::fs::read_dir(&new).map(|d| d.count()).unwrap_or(0);
        (n >= 5).then_some(n)
    })
    .await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(arrived, Some(5), "five mails in {}", new.display());
    // Each message as Python's email package reads it: To, Message-ID, text and HTML.
    let script = r#"
import email, email.policy, json, pathlib, sys
out = []
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    out.append({"to": msg["To"].addresses[0].addr_spec, "message_id": msg["Message-ID"],
                "text": text.get_content() if text else "", "html": html.get_content() if html else ""})
print(json.dumps(out))
"#;
    let parsed = std::process::Command::new(PYTHON)
        .args(["-c", script])
        .arg(&new)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let mails: Vec<Value> = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(mails.len(), 5);
    for mail in &mails {
        let to = mail["to"].as_str().unwrap();
        let pay_url = &pay_urls[to];
        assert!(
            mail["text"].as_str().unwrap().contains(pay_url.as_str()),
            "{mail}"
        );
        assert!(
            mail["html"].as_str().unwrap().contains(pay_url.as_str()),
            "{mail}"
        );
    }
    let mut addresses: Vec<&str> = mails.iter().map(|m| m["to"].as_str().unwrap()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 5, "one mail per payer");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A rejected address fixed by the host application gets exactly one mail at the new one;
/// the same address again sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_address_gets_exactly_one_mail() {
    let sink = sink().await;
    sink.refuse_recipient("typo@exampel.com");
    let app = app_mailing(&sink, 10).await;
    let product = app.create_product("monthly").await;
    let created = mailed_order(&app, &product, "f-1", "typo@exampel.com", "Fixed").await;
    let id = created["id"].as_str().unwrap().to_owned();
    mail_in_state(&app, &id, "rejected", Duration::from_secs(30)).await;

    let fix = json!({"payer": {"email": "right@example.com"}});
    let response = app.patch_order(&id, &fix).await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["payer"]["email"], "right@example.com");
    assert_eq!(changed["pay_url"], created["pay_url"], "the pay URL stays");
    let emails = mail_in_state(&app, &id, "sent", Duration::from_secs(30)).await;
    assert_eq!(emails.as_array().unwrap().len(), 2, "{emails}");

    // The same address again, and then nothing new: still one mail to it.
    assert_eq!(app.patch_order(&id, &fix).await.status(), 200);
    app.drain_jobs().await;
    assert_eq!(sink.messages_to("right@example.com").len(), 1);
    assert_eq!(
        app.get_order(&id).await["emails"].as_array().unwrap().len(),
        2
    );
    let bad = app
        .patch_order(&id, &json!({"payer": {"email": "nobody"}}))
        .await;
    assert_eq!(bad.status(), 422);
    let nothing = app.patch_order(&id, &json!({})).await;
    assert_eq!(nothing.status(), 422);
}

/// `paylink blast FILE --send-email --email-message …`: the workers mail each payer; without
/// PAYLINK__EMAIL__SMTP_URL in the command's own settings it creates nothing and exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paylink_blast_send_email_mails_every_payer_and_refuses_while_sending_is_off() {
    let sink = sink().await;
    let app = app_mailing(&sink, 50).await;
    let product = app.create_product("monthly").await;
    let dir = tempfile_dir("paylink-blast-mail");
    let file = dir.join("may.csv");
    let mut csv = String::from("external_ref,payer_email,payer_name,product_id,amount_cents\n");
    for i in 0..10 {
        csv.push_str(&format!(
            "may-{i},p{i}@example.com,Payer {i},{product},4500\n"
        ));
    }
    std::fs::write(&file, csv).unwrap();

    let off = tokio::task::spawn_blocking({
        let mut command = crate::cli::blast_command(&app);
        command.arg(&file).args(["--send-email", "--yes"]);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(off.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&off.stderr).contains("PAYLINK__EMAIL__SMTP_URL"),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert_eq!(app.count_orders().await, 0, "nothing was created");

    let on = tokio::task::spawn_blocking({
        let mut command = crate::cli::blast_command(&app);
        command
            .arg(&file)
            .args([
                "--send-email",
                "--yes",
                "--email-message",
                "See you at practice.",
            ])
            .env("PAYLINK__EMAIL__SMTP_URL", sink.smtp_url())
            .env("PAYLINK__EMAIL__FROM", FROM);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    crate::cli::assert_exited_0(&on);
    let mails = sink.wait_for(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(mails.len(), 10);
    for mail in &mails {
        let text = mail.parsed.text.as_deref().unwrap_or_default();
        assert!(text.contains("See you at practice."), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `email.rate_per_sec` is one limit for the whole fleet: two `paylink work` processes at 20/s
/// together send 200 mails in no less than 9 s (each alone would do it in 5 s at 40/s), about
/// 20 in any one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_together_keep_to_the_mail_rate() {
    let sink = sink().await;
    let app = app_mailing_with(&sink, 20, false).await;
    let product = app.create_product("monthly").await;
    let env = worker_mail_env(&sink, 20);
    let _workers = [
        spawn_mailing_worker(&app, &env),
        spawn_mailing_worker(&app, &env),
    ];
    mailed_blast(&app, &product, 200, "rate").await;
    let mails = sink.wait_for(200, Duration::from_secs(120)).await.unwrap();
    let mut at: Vec<chrono::DateTime<chrono::Utc>> = mails.iter().map(|m| m.received_at).collect();
    at.sort_unstable();
    let spread = (at[199] - at[0]).num_milliseconds();
    assert!(spread >= 9_000, "200 mails at 20/s took {spread} ms");
    let busiest = at
        .iter()
        .map(|start| {
            at.iter()
                .filter(|t| **t >= *start && (**t - *start).num_milliseconds() < 1000)
                .count()
        })
        .max()
        .unwrap();
    // The limit paces the sends; arrival times add each send's own latency, so a second may hold
    // a few more. A limit per process would give about 40.
    assert!(busiest <= 26, "{busiest} mails in one second at 20/s");
}

/// A worker SIGKILLed while it sends costs seconds, not minutes: another worker finishes the
/// blast's mails, each payer has their mail, and a mail that went twice (the server took it, the
/// record did not) is the same message, Message-ID and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_send_costs_seconds_and_a_repeat_is_the_same_message() {
    let sink = sink().await;
    // Each mail takes the server 200 ms: a kill lands mid-send.
    sink.set_delay(Duration::from_millis(200));
    let app = app_mailing_with(&sink, 50, false).await;
    let product = app.create_product("monthly").await;
    let env = worker_mail_env(&sink, 50);
    let mut victim = spawn_mailing_worker(&app, &env);
    mailed_blast(&app, &product, 60, "kill").await;
    sink.wait_for(10, Duration::from_secs(60)).await.unwrap();
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();
    let killed_at = std::time::Instant::now();
    let before = sink.count();
    let _replacement = spawn_mailing_worker(&app, &env);
    sink.wait_for(before + 1, Duration::from_secs(30))
        .await
        .expect("the replacement sends within seconds");
    let resumed_after = killed_at.elapsed();
    assert!(
        resumed_after < Duration::from_secs(20),
        "mail resumed {resumed_after:?} after the kill"
    );
    let everyone = eventually(Duration::from_secs(90), || async {
        let mut to: Vec<String> = sink
            .messages()
            .iter()
            .flat_map(|m| m.rcpt_to.clone())
            .collect();
        to.sort_unstable();
        to.dedup();
        (to.len() == 60).then_some(to)
    })
    .await;
    assert!(everyone.is_some(), "every payer mailed after the kill");
    let mut by_payer: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for mail in sink.messages() {
        for to in &mail.rcpt_to {
            by_payer
                .entry(to.clone())
                .or_default()
                .push(mail.parsed.message_id.clone());
        }
    }
    for (payer, ids) in &by_payer {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{payer} got different messages: {ids:?}"
        );
    }
    eprintln!(
        "mail resumed {:.1} s after the kill; {} payers mailed twice with the same Message-ID",
        resumed_after.as_secs_f64(),
        by_payer.values().filter(|ids| ids.len() > 1).count()
    );
}

/// The dashboard: the order's page lists its mails with the server's reply, and "Send again"
/// mails the payer again; the blast's page counts its mails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_each_mail_and_sends_again() {
    let sink = sink().await;
    sink.refuse_recipient("bounced@example.com");
    let app = app_mailing(&sink, 20).await;
    let product = app.create_product("monthly").await;
    let blast_id = mailed_blast(&app, &product, 3, "dash").await;
    let created = mailed_order(&app, &product, "dash-x", "bounced@example.com", "B").await;
    sink.wait_for(3, Duration::from_secs(30)).await.unwrap();
    let bounced = created["id"].as_str().unwrap();
    mail_in_state(&app, bounced, "rejected", Duration::from_secs(30)).await;
    app.drain_jobs().await;

    let blast_page = app.admin_page(&format!("/admin/blasts/{blast_id}")).await;
    assert!(blast_page.contains("3 sent"), "{blast_page}");

    let page: Value = app
        .get_json(&format!("/v1/blasts/{blast_id}/orders"))
        .await
        .json()
        .await
        .unwrap();
    let first = page["data"][0]["id"].as_str().unwrap().to_owned();
    let shown: Value = app
        .get_json(&format!("/v1/orders/{first}"))
        .await
        .json()
        .await
        .unwrap();
    let first_to = shown["emails"][0]["to"].as_str().unwrap().to_owned();
    let order_page = app.admin_page(&format!("/admin/orders/{first}")).await;
    assert!(order_page.contains("id=\"mails\""), "{order_page}");
    assert!(order_page.contains("<b>sent</b>"), "{order_page}");
    // The order's story tells each mail among its other steps.
    for step in [
        format!("Pay-link mail queued for {first_to}"),
        format!("Pay-link mail sent to {first_to}"),
    ] {
        assert!(order_page.contains(&step), "{step}: {order_page}");
    }
    let rejected_page = app.admin_page(&format!("/admin/orders/{bounced}")).await;
    assert!(rejected_page.contains("<b>rejected</b>"), "{rejected_page}");
    assert!(
        rejected_page.contains("Mail to bounced@example.com refused: permanent error (550)"),
        "the server's reply, in the story: {rejected_page}"
    );

    let to = app
        .admin_press(&format!("/admin/orders/{first}/send_email"), &[])
        .await;
    assert!(to.ends_with("notice=mail_queued"), "{to}");
    sink.wait_for(4, Duration::from_secs(30)).await.unwrap();
    // The sink has it before the worker records the 250.
    let again = eventually(Duration::from_secs(10), || async {
        let again = app.admin_page(&format!("/admin/orders/{first}")).await;
        (again.matches("<b>sent</b>").count() == 2).then_some(again)
    })
    .await
    .expect("the order's page shows both mails sent");
    assert!(
        again.contains(&format!("Pay-link mail asked for again, to {first_to}")),
        "{again}"
    );
}

/// "Needs attention": the failures page lists an address the server refused, with the server's
/// reply; "Fix and resend" changes it, the new address gets the mail, and the list is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_is_listed_and_fixed_from_the_failures_page() {
    let sink = sink().await;
    sink.refuse_recipient("wrong@exampel.org");
    let app = app_mailing(&sink, 20).await;
    let product = app.create_product("monthly").await;
    let created = mailed_order(&app, &product, "fix-1", "wrong@exampel.org", "Wren").await;
    let id = created["id"].as_str().unwrap().to_owned();
    mail_in_state(&app, &id, "rejected", Duration::from_secs(30)).await;

    let failures = app.admin_page("/admin/failures").await;
    assert!(failures.contains("id=\"rejected-mail\""), "{failures}");
    assert!(failures.contains("wrong@exampel.org"), "{failures}");
    assert!(failures.contains("550"), "{failures}");

    let to = app
        .admin_press(
            &format!("/admin/orders/{id}/payer_email"),
            &[("email", "wren@example.org")],
        )
        .await;
    assert!(to.ends_with("notice=address_changed"), "{to}");
    let mails = sink.wait_for(1, Duration::from_secs(30)).await.unwrap();
    assert!(mails[0].is_to("wren@example.org"));
    let failures = app.admin_page("/admin/failures").await;
    assert!(!failures.contains("wrong@exampel.org"), "{failures}");
    assert_eq!(
        app.get_order(&id).await["payer"]["email"],
        "wren@example.org"
    );
}
