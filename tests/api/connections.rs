//! Every connection's limits, on real sockets (docs/security.md): the header and body
//! timeouts at their shipped 30 s and when set shorter, the whole-body deadline against a body
//! trickled a byte at a time, the connection caps (overall and per client), and `/metrics`
//! behind the admin token or on its own address.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use paylink_testkit::{AppOptions, spawn_app, spawn_app_with};

/// Reads until the server closes the connection (or `limit` passes); answers what arrived and
/// when the connection closed.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into_owned(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), None),
        }
    }
}

fn host_port(address: &str) -> &str {
    address.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_a_body_never_sent_are_cut_off_after_the_shipped_30_s() {
    let app = spawn_app().await;
    let addr = host_port(&app.address).to_owned();
    // Headers started and never finished.
    let mut headers = TcpStream::connect(&addr).await.unwrap();
    headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // A webhook declaring a megabyte and sending nothing of it.
    let mut body = TcpStream::connect(&addr).await.unwrap();
    body.write_all(
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Stripe-Signature: t=1,v1=00\r\nContent-Length: 1000000\r\n\r\n{",
    )
    .await
    .unwrap();
    // A connection that says nothing at all.
    let mut silent = TcpStream::connect(&addr).await.unwrap();

    let limit = Duration::from_secs(45);
    let ((_, headers_closed), (body_answer, body_closed), (_, silent_closed)) = tokio::join!(
        until_closed(&mut headers, limit),
        until_closed(&mut body, limit),
        until_closed(&mut silent, limit),
    );
    for (what, closed) in [
        ("half-sent headers", headers_closed),
        ("a body never sent", body_closed),
        ("a silent connection", silent_closed),
    ] {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {limit:?}"));
        assert!(
            closed >= Duration::from_secs(29),
            "{what}: closed after {closed:?}, before the 30 s timeout"
        );
    }
    assert!(
        !body_answer.starts_with("HTTP/1.1 200"),
        "the cut-off webhook stored nothing: {body_answer}"
    );
    // The intake still serves everyone else.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_read_timeout_secs_set_to_2_closes_a_silent_connection_after_about_2_s() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.header_read_timeout_secs", json!(2))],
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let mut silent = TcpStream::connect(host_port(&app.address)).await.unwrap();

    let (_, closed) = until_closed(&mut silent, Duration::from_secs(20)).await;

    let closed = closed.expect("a silent connection is closed within 20 s");
    println!("silent connection closed after {closed:?} (header_read_timeout_secs = 2)");
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(10)).contains(&closed),
        "closed after {closed:?}, not about 2 s"
    );
}

/// Sends `head` (a request declaring far more body than it will send), then one byte of body
/// a second until the server closes the connection or `limit` passes; answers what the server
/// said and when, counted from the end of the headers.
async fn trickle(addr: &str, head: String, limit: Duration) -> (String, Option<Duration>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        while started.elapsed() < limit {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if writer.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout_at((started + limit).into(), reader.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break Some(started.elapsed()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => break None,
        }
    };
    dribble.abort();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// A body sent one byte a second never trips the 30 s gap timeout; `body_total_timeout_secs`
/// cuts it off anyway, on the webhook and on the login form alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_a_byte_a_second_is_cut_off_at_body_total_timeout_secs() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.body_total_timeout_secs", json!(4))],
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let addr = host_port(&app.address).to_owned();
    let webhook = "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                   Stripe-Signature: t=1,v1=00\r\nContent-Length: 1000000\r\n\r\n{"
        .to_owned();
    let login = "POST /admin/login HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n\
                 token="
        .to_owned();
    let limit = Duration::from_secs(25);

    let ((webhook_answer, webhook_closed), (login_answer, login_closed)) =
        tokio::join!(trickle(&addr, webhook, limit), trickle(&addr, login, limit),);

    for (what, answer, closed) in [
        ("/webhooks/stripe", webhook_answer, webhook_closed),
        ("/admin/login", login_answer, login_closed),
    ] {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {limit:?}"));
        println!(
            "{what}: closed after {closed:?}, answered {:?}",
            answer.lines().next().unwrap_or_default()
        );
        assert!(
            (Duration::from_millis(3500)..Duration::from_secs(15)).contains(&closed),
            "{what}: closed after {closed:?}, not at the 4 s deadline"
        );
        assert!(
            !answer.starts_with("HTTP/1.1 2") && !answer.starts_with("HTTP/1.1 3"),
            "{what}: the cut-off body was not taken: {answer}"
        );
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.max_connections", json!(3))],
        ..AppOptions::default()
    })
    .await;
    let addr = host_port(&app.address).to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        // A finished request keeps the connection open (keep-alive) and proves it is served.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut fourth = TcpStream::connect(&addr).await.unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (early, closed) = until_closed(&mut fourth, Duration::from_secs(2)).await;
    assert!(
        early.is_empty() && closed.is_none(),
        "the fourth connection is not served while three are held: {early:?}"
    );
    drop(held.pop());
    let (answer, _) = until_closed(&mut fourth, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_addr_set_metrics_leave_the_public_port() {
    let app = spawn_app_with(AppOptions {
        settings: vec![("http.metrics_addr", json!("127.0.0.1:0"))],
        ..AppOptions::default()
    })
    .await;
    let public = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(paylink_testkit::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        404,
        "not on the public port, even with the token"
    );
    let own = app.metrics_address.clone().expect("a metrics address");
    let metrics = app
        .client
        .get(format!("{own}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("paylink_"));
    // Nothing else is served there.
    let other = app.client.get(format!("{own}/admin")).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

/// A connection to `addr` from the local address `from` (any of 127/8 reaches loopback on
/// Linux), so a test can be two clients.
async fn connect_from(from: &str, addr: &str) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(addr.parse().unwrap()).await
}

/// The finding: 1,100 half-sent request heads from one address took every one of the 1,024
/// slots and locked everyone out until the 30 s header timeout. At the shipped limits (1,024
/// connections, 128 per client) the same flood from 127.0.0.1 holds 128; 127.0.0.2 is served
/// at once, and the flood's extra connections are answered 429 and closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_holding_1100_half_sent_heads_leaves_another_client_served() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    assert_eq!(app.settings.http.max_connections, 1024, "the shipped limit");
    assert_eq!(app.settings.http.max_connections_per_client, 128);
    let addr = host_port(&app.address).to_owned();
    let mut flood = Vec::new();
    for _ in 0..1100 {
        let Ok(mut stream) = connect_from("127.0.0.1", &addr).await else {
            continue;
        };
        // A refused connection may already be closed: its write fails, which is the point.
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        flood.push(stream);
    }

    let started = Instant::now();
    let mut other = connect_from("127.0.0.2", &addr).await.unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut other, Duration::from_secs(10)).await;
    println!(
        "127.0.0.2 answered after {:?} with 1,100 heads from 127.0.0.1 open",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        closed.is_some_and(|c| c < Duration::from_secs(5)),
        "answered at once, not after the header timeout: {closed:?}"
    );

    // Of the flood, 128 are held open and the rest were told 429 and closed.
    let mut refused = 0;
    let mut open = 0;
    for stream in &mut flood {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await {
            Err(_) => open += 1,
            Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 429") => {
                refused += 1
            }
            Ok(_) => refused += 1,
        }
    }
    println!("of the flood: {open} held open, {refused} refused");
    assert_eq!(open, 128, "the cap holds ({refused} refused)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_metrics_on_the_public_port_need_the_admin_token() {
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    assert_eq!(app.settings.metrics_addr(), None, "the shipped default");
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let text = anonymous.text().await.unwrap();
    assert!(!text.contains("paylink_"), "{text}");
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let text = app.metrics_text().await;
    assert!(text.contains("paylink_"), "with the token: {text}");
}

/// `http.metrics_addr` naming `http.addr` itself serves `/metrics` there to anyone: a
/// Prometheus that cannot send a token, on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_set_to_the_public_addr_serves_metrics_there_without_a_token() {
    use crate::safe_defaults::{scratch_dir, start};
    let dir = scratch_dir();
    let port = paylink_testkit::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = crate::cli::paylink();
    command
        .arg("serve")
        .current_dir(&dir)
        .env("PAYLINK__HTTP__ADDR", &addr)
        .env("PAYLINK__HTTP__METRICS_ADDR", &addr)
        .env("PAYLINK__PUBLIC_BASE_URL", format!("http://{addr}"))
        .env("PAYLINK__ADMIN__TOKEN", paylink_testkit::ADMIN_TOKEN)
        .env("PAYLINK__STRIPE__API_BASE", "http://127.0.0.1:9/");
    let started = start(command);
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    let status = metrics.status();
    let text = metrics.text().await.unwrap();
    started.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("paylink_"), "{text}");
}
