//! Where paylink's own webhooks may go (docs/security.md, "Outbound webhooks"): public
//! addresses only unless `outbound.allow_private_networks` is set, checked at registration in
//! every spelling and again on the address each try connects to; what the operator sees of a
//! failed try is a word or a status, and URLs without their credentials.

use std::time::Duration;

use paylink_core::store::{outbound_delivery, webhook_endpoint};
use paylink_testkit::{AppOptions, TestApp, eventually, spawn_app_with};
use serde_json::{Value, json};

use crate::outbound::{received, register};
use crate::outbound_receiver::{Answer, Receiver};

/// An app at the shipped `outbound.allow_private_networks = false` (the testkit sets it true
/// for the other tests' local receivers), with `extra` settings.
async fn public_only(extra: &[(&'static str, Value)]) -> TestApp {
    let mut settings = vec![("outbound.allow_private_networks", json!(false))];
    settings.extend(extra.iter().cloned());
    spawn_app_with(AppOptions {
        settings,
        ..AppOptions::default()
    })
    .await
}

/// Every delivery once each has had its one try (the retry schedule is empty).
async fn tried(app: &TestApp, count: usize) -> Vec<outbound_delivery::Model> {
    eventually(Duration::from_secs(30), || async {
        let rows = outbound_delivery::recent(&app.db, None, 100).await.ok()?;
        (rows.len() == count && rows.iter().all(|r| r.attempts >= 1)).then_some(rows)
    })
    .await
    .unwrap_or_else(|| panic!("{count} deliveries tried once"))
}

#[tokio::test]
async fn every_spelling_of_an_address_inside_is_refused_at_registration() {
    let app = public_only(&[]).await;
    for (url, says) in [
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),
        ("http://0x7f.0.0.1/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://127.0.0.1./", "loopback"),
        ("http://[::ffff:127.0.0.1]:6379/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[64:ff9b::7f00:1]/", "loopback"),
        ("http://[2002:7f00:1::1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "unique-local"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://192.0.2.1/", "documentation"),
        // A name: refused for what it resolves to (localhost is 127.0.0.1 here).
        ("http://localhost:6379/", "resolves to a loopback address"),
        // Names of the machine or a private network, whatever they resolve to (if anything).
        ("http://api.localhost/", "public addresses"),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "public addresses",
        ),
        ("https://user:pa55word@10.1.2.3/hook", "private"),
    ] {
        let response = app
            .post_json("/v1/webhook_endpoints", &json!({ "url": url }))
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 400, "{url}: {text}");
        assert!(
            text.contains("url: ") && text.contains(says),
            "{url}: {text}"
        );
        assert!(
            text.contains("outbound.allow_private_networks"),
            "names the setting: {text}"
        );
        assert!(!text.contains("pa55word"), "no credentials echoed: {text}");
    }
    let listed = app.webhook_endpoints().await;
    assert_eq!(listed["data"], json!([]), "nothing registered");

    // Public targets still register (a name that does not resolve here is let through:
    // every connection is checked anyway).
    for url in ["https://8.8.8.8/hook", "https://hooks.example.org/paylink"] {
        register(&app, url, None).await;
    }
}

/// Endpoints the API would refuse, written straight to the store (as a registration made
/// before the setting was turned off, or a name whose DNS answer changed since): every try is
/// refused on the address it would connect to, and the receiver on 127.0.0.1 gets nothing.
#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_when_connecting() {
    let app = public_only(&[("outbound.retry_schedule_secs", json!(""))]).await;
    let receiver = Receiver::start().await;
    let secret = paylink_core::outbound::sign::new_secret();
    let types = ["order.link_ready".to_owned()];
    for url in [
        format!("http://localhost:{}/hooks", receiver.port),
        format!("http://127.0.0.1:{}/hooks", receiver.port),
        format!("http://[::ffff:127.0.0.1]:{}/hooks", receiver.port),
    ] {
        webhook_endpoint::insert(&app.db, &url, Some(&types), &secret)
            .await
            .unwrap();
    }
    app.minted_order("jersey", 2500).await;

    let rows = tried(&app, 3).await;
    for row in &rows {
        assert_eq!(row.state, outbound_delivery::State::Failed, "{row:?}");
        assert_eq!(row.last_status, None);
        assert_eq!(
            row.last_error.as_deref(),
            Some("refused: not a public address"),
            "{row:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.deliveries().is_empty(),
        "nothing reached 127.0.0.1"
    );
    let page = app.admin_page("/admin/webhooks").await;
    assert!(page.contains("refused: not a public address"), "{page}");
}

#[tokio::test]
async fn with_private_networks_allowed_a_local_receiver_gets_its_deliveries() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("outbound.allow_private_networks", json!(true))],
        ..AppOptions::default()
    })
    .await;
    let receiver = Receiver::start().await;
    register(
        &app,
        &format!("http://localhost:{}/hooks", receiver.port),
        Some(&["order.link_ready"]),
    )
    .await;
    let order = app.minted_order("jersey", 2500).await;
    let got = received(&receiver, Duration::from_secs(30), |d| !d.is_empty()).await;
    assert_eq!(got[0].json["data"]["id"], order["id"]);
}

#[tokio::test]
async fn a_redirect_is_a_failed_try_naming_its_status_and_is_not_followed() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("outbound.retry_schedule_secs", json!(""))],
        ..AppOptions::default()
    })
    .await;
    let (redirecting, elsewhere) = (Receiver::start().await, Receiver::start().await);
    redirecting.always(Answer::RedirectTo(elsewhere.port));
    register(&app, &redirecting.url(), Some(&["order.link_ready"])).await;
    app.minted_order("jersey", 2500).await;

    let rows = tried(&app, 1).await;
    assert_eq!(rows[0].state, outbound_delivery::State::Failed);
    assert_eq!(rows[0].last_status, Some(307));
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 307"));
    assert_eq!(redirecting.deliveries().len(), 1);
    assert!(
        elsewhere.deliveries().is_empty(),
        "the redirect was not followed"
    );
}

/// Refused, silent, answering 500, no such name: the API, the dashboard and the stored rows say
/// a word or the status, never the OS's or the resolver's text (which told a port scanner
/// whether a port was open); and a URL's credentials are masked wherever it is shown.
#[tokio::test]
async fn the_operator_sees_words_for_failed_tries_and_urls_without_credentials() {
    let app = spawn_app_with(AppOptions {
        settings: vec![
            ("outbound.retry_schedule_secs", json!("")),
            ("outbound.timeout_secs", json!(1)),
        ],
        ..AppOptions::default()
    })
    .await;
    let (silent, failing) = (Receiver::start().await, Receiver::start().await);
    silent.always(Answer::Hang);
    failing.always(Answer::Status(500));
    let closed = "http://hook-user:pa55word@127.0.0.1:9/hook?token=tok_s3cret&team=7";
    for url in [
        closed.to_owned(),
        silent.url(),
        failing.url(),
        "http://no-such-host.invalid/hook".to_owned(),
    ] {
        register(&app, &url, Some(&["order.link_ready"])).await;
    }
    app.minted_order("jersey", 2500).await;

    let rows = tried(&app, 4).await;
    let mut errors: Vec<&str> = rows
        .iter()
        .map(|r| r.last_error.as_deref().unwrap_or_default())
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "HTTP 500",
            "connection failed",
            "connection failed",
            "timed out"
        ],
        "{rows:#?}"
    );

    let listed = app
        .get_json("/v1/webhook_endpoints")
        .await
        .text()
        .await
        .unwrap();
    let page = app.admin_page("/admin/webhooks").await;
    for shown in [&listed, &page] {
        assert!(
            shown.contains("hook-user:***@127.0.0.1:9/hook?token=***&amp;team=7")
                || shown.contains("hook-user:***@127.0.0.1:9/hook?token=***&team=7"),
            "the URL, masked: {shown}"
        );
        for secret in ["pa55word", "tok_s3cret"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        for detail in [
            "os error",
            "tcp connect",
            "dns error",
            "lookup",
            "Connection refused",
        ] {
            assert!(!shown.contains(detail), "{detail:?} shown: {shown}");
        }
    }
    assert!(
        page.contains("timed out") && page.contains("HTTP 500"),
        "{page}"
    );
}
