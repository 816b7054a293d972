//! `paylink doctor` end to end against the stand-in (docs/stripe.md, "Before your first blast"): a
//! healthy deployment passes every check; each broken setup fails its own check, with a message
//! that names the fix, and exit 1.

use std::process::{Command, Output};

use paylink_testkit::{TestApp, WEBHOOK_SECRET, spawn_app};
use serde_json::{Value, json};

use crate::cli::paylink;
use crate::webhooks::completed_event;

/// The key the tests give the doctor, and the only one the stand-in takes when told so.
const KEY: &str = "sk_test_doctor_right_key_0001";

/// A `paylink doctor` with the app's settings (as `serve` and `work` read them), then `extra`.
fn doctor(app: &TestApp, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let s = &app.settings;
    let mut command = paylink();
    command
        .arg("doctor")
        .args(args)
        .env("PAYLINK_ENV", "test")
        .env("PAYLINK__DATABASE__URL", &s.database.url)
        .env(
            "PAYLINK__QUEUE__URL",
            s.queue.url.clone().unwrap_or_default(),
        )
        .env("PAYLINK__QUEUE__NAMESPACE", &s.queue.namespace)
        .env("PAYLINK__PUBLIC_BASE_URL", &s.public_base_url)
        .env("PAYLINK__STRIPE__API_BASE", &app.fake_url)
        .env("PAYLINK__STRIPE__SECRET_KEY", KEY)
        .env("PAYLINK__STRIPE__WEBHOOK_SECRETS", WEBHOOK_SECRET)
        .env("PAYLINK__STRIPE__RATE_LIMIT_PER_SEC", "20")
        .env("PAYLINK__LOG__LEVEL", "error")
        .envs(extra.iter().copied());
    command
}

/// Runs it: exit code and stdout.
fn run(mut command: Command) -> (i32, String) {
    let Output { status, stdout, .. } = command.output().expect("paylink doctor runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
    )
}

/// The line of `check` that says `verdict`, if there is one.
fn line<'a>(out: &'a str, verdict: &str, check: &str) -> Option<&'a str> {
    out.lines().find(|l| {
        l.starts_with(&format!("{verdict:<5} {check} "))
            || l.starts_with(&format!("{verdict:<5} {check:<20}"))
    })
}

/// Creates a webhook endpoint at the stand-in as one would at Stripe.
async fn stripe_endpoint(
    app: &TestApp,
    url: &str,
    events: &[&str],
    version: Option<&str>,
) -> Value {
    let mut form: Vec<(&str, &str)> = vec![("url", url)];
    form.extend(events.iter().map(|e| ("enabled_events[]", *e)));
    if let Some(version) = version {
        form.push(("api_version", version));
    }
    let response = app
        .client
        .post(format!("{}v1/webhook_endpoints", app.fake_url))
        .bearer_auth(KEY)
        .form(&form)
        .send()
        .await
        .expect("the stand-in answers");
    assert_eq!(response.status(), 200, "the stand-in creates the endpoint");
    response.json().await.expect("json")
}

async fn delete_stripe_endpoint(app: &TestApp, id: &str) {
    let response = app
        .client
        .delete(format!("{}v1/webhook_endpoints/{id}", app.fake_url))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("the stand-in answers");
    assert_eq!(response.status(), 200);
}

/// A check, the settings that break it, the doctor's arguments, and a word its fix must name.
type BrokenCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static [&'static str],
    &'static str,
);

const EVENTS: [&str; 3] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
];

fn our_endpoint(app: &TestApp) -> String {
    format!("{}/webhooks/stripe", app.settings.public_base_url)
}

/// The links the doctor made at the stand-in (their order ids start with `doctor_`).
async fn doctor_links(app: &TestApp) -> Vec<Value> {
    app.stripe
        .links()
        .await
        .expect("the stand-in lists links")
        .into_iter()
        .filter(|l| {
            l["metadata"]["order_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("doctor_"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_setup_passes_every_check_and_the_test_links_are_switched_off() {
    let app = spawn_app().await;
    let version = paylink_core::stripe::api_version();
    stripe_endpoint(&app, &our_endpoint(&app), &EVENTS, Some(version)).await;
    // A delivery the intake verified: the one way to know its secret is Stripe's.
    let order = app.minted_order("jersey", 1500).await;
    assert_eq!(
        app.send_stripe_webhook(&completed_event(&order, "paid"))
            .await
            .status(),
        200
    );

    let (code, out) = run(doctor(&app, &["--create-test-link"], &[]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .all(|l| !(l.starts_with("FAIL") || l.starts_with("warn") || l.starts_with("skip"))),
        "{out}"
    );
    for check in [
        "database",
        "migrations",
        "queue",
        "public base URL",
        "webhook secrets",
        "endpoint secret",
        "stripe key",
        "rate limit",
        "stripe accepts key",
        "permissions",
        "webhook endpoint",
        "webhook events",
        "webhook version",
        "event mode",
        "test link monthly",
        "test link tournament",
        "test link jersey",
        "test link tryout",
        "test link generic",
        "test links",
    ] {
        assert!(
            line(&out, "ok", check).is_some(),
            "no ok line for {check}:\n{out}"
        );
    }
    let links = doctor_links(&app).await;
    assert_eq!(links.len(), 5, "one per category");
    assert!(
        links.iter().all(|l| l["active"] == false),
        "switched off: {links:?}"
    );
    for link in &links {
        assert!(
            out.contains(link["url"].as_str().unwrap()),
            "its URL is printed: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_setup_fails_its_own_check_naming_the_fix() {
    let app = spawn_app().await;
    let version = paylink_core::stripe::api_version();
    let ours = our_endpoint(&app);

    // No endpoint at all.
    let (code, out) = run(doctor(&app, &[], &[]));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "webhook endpoint").expect(&out);
    assert!(
        failed.contains(&ours) && failed.contains("Developers → Webhooks"),
        "{failed}"
    );

    // An endpoint somewhere else.
    let elsewhere = stripe_endpoint(
        &app,
        "https://old.example.org/hooks",
        &EVENTS,
        Some(version),
    )
    .await;
    let (code, out) = run(doctor(&app, &[], &[]));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "webhook endpoint").expect(&out);
    assert!(
        failed.contains("https://old.example.org/hooks") && failed.contains("Fix:"),
        "{failed}"
    );
    delete_stripe_endpoint(&app, elsewhere["id"].as_str().unwrap()).await;

    // Ours, but missing an event type.
    let partial = stripe_endpoint(&app, &ours, &EVENTS[..1], Some(version)).await;
    let (code, out) = run(doctor(&app, &[], &[]));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "webhook events").expect(&out);
    assert!(
        failed.contains("checkout.session.async_payment_succeeded") && failed.contains("Fix:"),
        "{failed}"
    );
    assert!(line(&out, "ok", "webhook endpoint").is_some(), "{out}");
    delete_stripe_endpoint(&app, partial["id"].as_str().unwrap()).await;

    // Ours, every event, but no pinned API version.
    let unpinned = stripe_endpoint(&app, &ours, &EVENTS, None).await;
    let (code, out) = run(doctor(&app, &[], &[]));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "webhook version").expect(&out);
    assert!(
        failed.contains(version) && failed.contains("api_version="),
        "{failed}"
    );
    assert!(line(&out, "ok", "webhook events").is_some(), "{out}");
    delete_stripe_endpoint(&app, unpinned["id"].as_str().unwrap()).await;
    stripe_endpoint(&app, &ours, &EVENTS, Some(version)).await;

    // Now only what each case breaks fails.
    let cases: Vec<BrokenCase> = vec![
        (
            "rate limit",
            vec![("PAYLINK__STRIPE__RATE_LIMIT_PER_SEC", "30")],
            &[],
            "25/s",
        ),
        (
            "database",
            vec![(
                "PAYLINK__DATABASE__URL",
                "postgres://postgres@127.0.0.1:9/paylink",
            )],
            &[],
            "PAYLINK__DATABASE__URL",
        ),
        (
            "stripe key",
            vec![("PAYLINK__STRIPE__SECRET_KEY", "pk_test_123")],
            &[],
            "secret key",
        ),
        (
            "stripe key",
            vec![
                ("PAYLINK__STRIPE__SECRET_KEY", ""),
                ("PAYLINK__STRIPE__API_BASE", "https://api.stripe.com/"),
            ],
            &[],
            "PAYLINK__STRIPE__SECRET_KEY",
        ),
        (
            "stripe key",
            vec![("PAYLINK__STRIPE__SECRET_KEY", "sk_live_doctor_0001")],
            &[],
            "PAYLINK_ENV=production",
        ),
        (
            "test links",
            vec![("PAYLINK__STRIPE__SECRET_KEY", "sk_live_doctor_0001")],
            &["--create-test-link"],
            "sk_test_",
        ),
    ];
    for (check, env, args, fix_names) in cases {
        let (code, out) = run(doctor(&app, args, &env));
        assert_eq!(code, 1, "{check} {env:?}:\n{out}");
        let failed = line(&out, "FAIL", check).unwrap_or_else(|| panic!("{check} {env:?}:\n{out}"));
        assert!(
            failed.contains(fix_names) && failed.contains("Fix:"),
            "{failed}"
        );
        assert_eq!(out.matches("FAIL").count(), 1, "only {check} fails:\n{out}");
    }
    assert!(
        doctor_links(&app).await.is_empty(),
        "a live key made no test link"
    );

    // The key Stripe refuses.
    app.fake_config(json!({ "api_keys": [KEY] })).await;
    let (code, out) = run(doctor(
        &app,
        &[],
        &[("PAYLINK__STRIPE__SECRET_KEY", "sk_test_doctor_wrong_0002")],
    ));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "stripe accepts key").expect(&out);
    assert!(
        failed.contains("refused the key") && failed.contains("API keys"),
        "{failed}"
    );
    assert!(
        !out.contains("sk_test_doctor_wrong_0002"),
        "the key is never printed:\n{out}"
    );
    app.fake_config(json!({ "api_keys": [] })).await;

    // A link Stripe stored otherwise than asked (the stand-in drops customer_creation).
    app.fake_config(json!({ "drop_customer_creation": true }))
        .await;
    let (code, out) = run(doctor(&app, &["--create-test-link"], &[]));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "test link monthly").expect(&out);
    assert!(
        failed.contains("customer_creation") && failed.contains("always"),
        "{failed}"
    );
    assert!(
        line(&out, "ok", "test link jersey").is_some(),
        "a category that saves no card matches:\n{out}"
    );
    let links = doctor_links(&app).await;
    assert_eq!(links.len(), 5);
    assert!(
        links.iter().all(|l| l["active"] == false),
        "switched off even so"
    );
}

/// The tables of the database at `url` (PostgreSQL).
async fn tables(url: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
        ))
        .await
        .unwrap();
    let names = rows
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    db.close().await.unwrap();
    names
}

/// The doctor checks a database it must leave as found: against an empty one it says the
/// migrations are missing, and creates nothing (not even the migrations table).
/// A restricted key given everything but Events read (the event sweep's): the doctor names
/// the missing permission and what needs it; given it too, the check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_key_without_events_read_is_named_by_the_doctor() {
    let app = spawn_app().await;
    let restricted = "rk_test_doctor_restricted_0001";
    let mut given = vec![
        "rak_payment_link_write",
        "rak_checkout_session_read",
        "rak_webhook_endpoint_read",
    ];
    app.fake_config(json!({ "key_permissions": { restricted: given } }))
        .await;
    let key = [("PAYLINK__STRIPE__SECRET_KEY", restricted)];
    let (code, out) = run(doctor(&app, &[], &key));
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "permissions").expect(&out);
    assert!(
        failed.contains("Events (Read: the event sweep")
            && !failed.contains("Payment Links (")
            && failed.contains("Fix:"),
        "{failed}"
    );
    assert!(line(&out, "ok", "stripe accepts key").is_some(), "{out}");

    given.push("rak_event_read");
    app.fake_config(json!({ "key_permissions": { restricted: given } }))
        .await;
    let (_, out) = run(doctor(&app, &[], &key));
    assert!(line(&out, "ok", "permissions").is_some(), "{out}");
    app.fake_config(json!({ "key_permissions": {} })).await;
}

/// A live-mode event under a test key settled nothing; the doctor names the secret that let it
/// in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_the_other_mode_is_a_warning_naming_the_webhook_secrets() {
    let app = spawn_app().await;
    let (_, out) = run(doctor(&app, &[], &[]));
    assert!(line(&out, "ok", "event mode").is_some(), "{out}");

    let order = app.minted_order("jersey", 1500).await;
    let mut live = completed_event(&order, "paid");
    live["livemode"] = json!(true);
    let id = live["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_stripe_webhook(&live).await.status(), 200);
    let outcome = paylink_testkit::eventually(std::time::Duration::from_secs(10), || async {
        app.event_outcome(&id).await
    })
    .await;
    assert_eq!(outcome.as_deref(), Some("wrong_mode"));

    let (_, out) = run(doctor(&app, &[], &[]));
    let warned = line(&out, "warn", "event mode").expect(&out);
    assert!(
        warned.contains("1 event(s) from live mode")
            && warned.contains(&id)
            && warned.contains("PAYLINK__STRIPE__WEBHOOK_SECRETS"),
        "{warned}"
    );
}

/// Live mode allows 100 requests/s in all but 25/s for creating Payment Links, which every mint
/// is: 80/s is a warning naming both ways out, unless the account was granted more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_above_stripes_payment_link_limit_is_a_warning_in_live_mode_too() {
    let app = spawn_app().await;
    let live = [
        ("PAYLINK_ENV", "production"),
        ("PAYLINK__STRIPE__SECRET_KEY", "sk_live_doctor_0001"),
        ("PAYLINK__STRIPE__RATE_LIMIT_PER_SEC", "80"),
    ];
    let (_, out) = run(doctor(&app, &[], &live));
    let warned = line(&out, "warn", "rate limit").expect(&out);
    assert!(
        warned.contains("25/s")
            && warned.contains("Payment Links")
            && warned.contains("PAYLINK__STRIPE__PAYMENT_LINKS_LIMIT_PER_SEC"),
        "{warned}"
    );
    let granted = [
        live[0],
        live[1],
        live[2],
        ("PAYLINK__STRIPE__PAYMENT_LINKS_LIMIT_PER_SEC", "100"),
    ];
    let (_, out) = run(doctor(&app, &[], &granted));
    assert!(line(&out, "ok", "rate limit").is_some(), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_creates_no_table_in_an_empty_database() {
    let app = spawn_app().await;
    let empty = paylink_testkit::TestDatabase::create(paylink_testkit::Db::Postgres).await;
    assert_eq!(tables(&empty.url).await, Vec::<String>::new());

    let (code, out) = run(doctor(
        &app,
        &[],
        &[("PAYLINK__DATABASE__URL", empty.url.as_str())],
    ));

    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "migrations").expect(&out);
    assert!(failed.contains("paylink migrate"), "{failed}");
    assert_eq!(
        tables(&empty.url).await,
        Vec::<String>::new(),
        "the doctor wrote to the database it checked:\n{out}"
    );
}

/// Every URL the doctor prints is redacted: the Stripe base, the public URL, the database and
/// the queue, whatever credentials they hold and however they are spelt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_url_the_doctor_prints_is_redacted() {
    let app = spawn_app().await;
    let stand_in = app
        .fake_url
        .replacen("http://", "http://stripeuser:api-secret-1@", 1);
    let public = "https://payuser:public-secret-2@pay.example.org";
    // The database and queue this app uses: the public URL is compared with the intake's.
    let (_, reachable) = run(doctor(
        &app,
        &[],
        &[
            ("PAYLINK__STRIPE__API_BASE", stand_in.as_str()),
            ("PAYLINK__PUBLIC_BASE_URL", public),
        ],
    ));
    // Ones that cannot be reached, with passwords a driver misreads.
    let (_, unreachable) = run(doctor(
        &app,
        &[],
        &[
            (
                "PAYLINK__DATABASE__URL",
                "postgres://postgres:db?secret-3@127.0.0.1:9/none",
            ),
            ("PAYLINK__QUEUE__URL", "redis://:queue@secret-4@127.0.0.1:9"),
        ],
    ));
    let out = format!("{reachable}{unreachable}");
    for secret in ["api-secret-1", "public-secret-2", "secret-3", "secret-4"] {
        assert!(!out.contains(secret), "{secret} printed:\n{out}");
    }
    assert!(
        reachable.contains("stripeuser:***@127.0.0.1"),
        "{reachable}"
    );
    let base = line(&reachable, "FAIL", "public base URL").expect(&reachable);
    assert!(base.contains("payuser:***@pay.example.org"), "{base}");
    assert!(
        line(&unreachable, "FAIL", "database")
            .expect(&unreachable)
            .contains("postgres:***@127.0.0.1:9/none"),
        "{unreachable}"
    );
}

/// Behind a TLS proxy (an https public URL; paylink speaks plain HTTP) without
/// `client_ip_header`, every client would count as the proxy: the doctor warns, naming the
/// setting; with it set, or an http public URL, the check is ok. `/metrics` is reported too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_warns_about_a_proxy_paylink_was_not_told_about() {
    let app = spawn_app().await;
    let https = [("PAYLINK__PUBLIC_BASE_URL", "https://pay.example.org")];
    let (_, out) = run(doctor(&app, &[], &https));
    let warned = line(&out, "warn", "client address").expect(&out);
    assert!(
        warned.contains("PAYLINK__HTTP__CLIENT_IP_HEADER"),
        "{warned}"
    );
    let (_, out) = run(doctor(
        &app,
        &[],
        &[
            https[0],
            ("PAYLINK__HTTP__CLIENT_IP_HEADER", "X-Forwarded-For"),
        ],
    ));
    let ok = line(&out, "ok", "client address").expect(&out);
    assert!(ok.contains("X-Forwarded-For"), "{ok}");
    let (_, out) = run(doctor(&app, &[], &[]));
    assert!(line(&out, "ok", "client address").is_some(), "{out}");
    let metrics = line(&out, "ok", "metrics").expect(&out);
    assert!(metrics.contains("admin token"), "{metrics}");
}

/// The mail check: the doctor reaches the mail server (greeting, EHLO, login) without sending,
/// and `--send-test-email ADDRESS` sends one sample pay-link mail there; a server that does not
/// answer fails the check, naming it and the setting to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_check_reaches_the_server_and_sends_a_test_mail() {
    let app = spawn_app().await;
    let sink = mail_sink::MailSink::start(mail_sink::SinkConfig::default())
        .await
        .unwrap();
    let smtp_url = sink.smtp_url();
    let from = "Riverside League <billing@riverside.example.org>";
    let mail_env = [
        ("PAYLINK__EMAIL__SMTP_URL", smtp_url.as_str()),
        ("PAYLINK__EMAIL__FROM", from),
    ];
    let command = doctor(
        &app,
        &["--send-test-email", "treasurer@example.org"],
        &mail_env,
    );
    let (_, out) = tokio::task::spawn_blocking(move || run(command))
        .await
        .unwrap();
    assert!(line(&out, "ok", "mail").is_some(), "{out}");
    assert!(line(&out, "ok", "test mail").is_some(), "{out}");
    let mails = sink.messages_to("treasurer@example.org");
    assert_eq!(mails.len(), 1, "{out}");
    let text = mails[0].parsed.text.as_deref().unwrap_or_default();
    assert!(text.contains("/pay/test-from-paylink-doctor"), "{text}");

    let closed = format!("smtp://127.0.0.1:{}", paylink_testkit::free_port());
    let command = doctor(
        &app,
        &[],
        &[
            ("PAYLINK__EMAIL__SMTP_URL", closed.as_str()),
            ("PAYLINK__EMAIL__FROM", from),
        ],
    );
    let (code, out) = tokio::task::spawn_blocking(move || run(command))
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
    let failed = line(&out, "FAIL", "mail").unwrap_or_else(|| panic!("{out}"));
    assert!(failed.contains("PAYLINK__EMAIL__SMTP_URL"), "{failed}");
    assert_eq!(sink.count(), 1, "the check sends nothing");
}
