//! The controls over a raw connection, where every byte the sink sends (or does not) shows;
//! and starting, waiting for and stopping a sink.

use std::time::{Duration, Instant};

use mail_sink::{MailSink, SinkConfig};

use crate::raw::Raw;

async fn sink() -> MailSink {
    MailSink::start(SinkConfig::default())
        .await
        .expect("the sink starts")
}

/// MAIL, RCPT, DATA and the message up to its final dot; the reply to the dot is left unread.
async fn send_message(raw: &mut Raw, to: &str, subject: &str) {
    raw.expect("MAIL FROM:<noreply@paylink.test>", 250).await;
    raw.expect(&format!("RCPT TO:<{to}>"), 250).await;
    raw.expect("DATA", 354).await;
    raw.send(&format!("Subject: {subject}\r\n\r\nhi\r\n.\r\n"))
        .await;
}

#[tokio::test]
async fn a_refused_recipient_gets_550_and_the_others_go_through() {
    let sink = sink().await;
    sink.refuse_recipient("Gone@Example.com");
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("MAIL FROM:<noreply@paylink.test>", 250).await;
    let refused = raw.expect("RCPT TO:<gone@example.com>", 550).await;
    assert_eq!(
        refused.text(),
        "5.1.1 <gone@example.com>: mailbox unavailable"
    );
    raw.expect("RCPT TO:<ann@example.com>", 250).await;
    raw.expect("DATA", 354).await;
    raw.send("Subject: one\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(raw.reply().await.code, 250);

    let refusals = sink.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].rcpt, "gone@example.com");
    assert_eq!(refusals[0].mail_from, "noreply@paylink.test");
    assert!(sink.messages_to("gone@example.com").is_empty());
    assert_eq!(sink.messages_to("ann@example.com").len(), 1);

    sink.accept_recipient("gone@example.com");
    raw.expect("MAIL FROM:<noreply@paylink.test>", 250).await;
    raw.expect("RCPT TO:<gone@example.com>", 250).await;
    assert_eq!(sink.stats().refused_recipients, 1);
}

#[tokio::test]
async fn deferred_transactions_get_421_at_mail_and_lose_their_connection() {
    let sink = sink().await;
    sink.defer_next(2);
    for _ in 0..2 {
        let mut raw = Raw::greeted(&sink).await;
        let deferred = raw.expect("MAIL FROM:<noreply@paylink.test>", 421).await;
        assert_eq!(deferred.text(), "4.7.0 try again later");
        assert!(raw.closed_silently().await);
    }
    let mut raw = Raw::greeted(&sink).await;
    send_message(&mut raw, "ann@example.com", "third time").await;
    assert_eq!(raw.reply().await.code, 250);
    assert_eq!(sink.deferrals().len(), 2);
    assert_eq!(sink.deferrals()[0].mail_from, "noreply@paylink.test");
    assert_eq!(sink.stats().deferred_transactions, 2);
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn a_dropped_message_is_recorded_and_never_answered() {
    let sink = sink().await;
    sink.drop_after_data_next(1);
    let mut raw = Raw::greeted(&sink).await;
    send_message(&mut raw, "ann@example.com", "lost reply").await;
    assert!(raw.closed_silently().await, "no reply to the final dot");
    let dropped = sink.dropped();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].reply_lost);
    assert_eq!(dropped[0].parsed.subject.as_deref(), Some("lost reply"));

    let mut raw = Raw::greeted(&sink).await;
    send_message(&mut raw, "ann@example.com", "lost reply").await;
    assert_eq!(raw.reply().await.code, 250);
    assert_eq!(sink.messages_to("ann@example.com").len(), 2);
    assert_eq!(sink.stats().dropped_after_data, 1);
}

#[tokio::test]
async fn the_delay_holds_each_reply_back() {
    let sink = sink().await;
    sink.set_delay(Duration::from_millis(300));
    let mut raw = Raw::greeted(&sink).await;
    let started = Instant::now();
    send_message(&mut raw, "ann@example.com", "slow").await;
    assert_eq!(raw.reply().await.code, 250);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sink.set_delay(Duration::ZERO);
    send_message(&mut raw, "ann@example.com", "fast").await;
    assert_eq!(raw.reply().await.code, 250);
    assert_eq!(sink.stats().delayed_messages, 1);
}

#[tokio::test]
async fn wait_for_returns_once_enough_arrived_or_says_what_did() {
    let sink = sink().await;
    let control = sink.control();
    let waiting = tokio::spawn(async move { control.wait_for(2, Duration::from_secs(5)).await });
    let mut raw = Raw::greeted(&sink).await;
    for subject in ["one", "two"] {
        send_message(&mut raw, "ann@example.com", subject).await;
        assert_eq!(raw.reply().await.code, 250);
    }
    let arrived = waiting.await.expect("the waiter ran").expect("two arrived");
    assert_eq!(arrived.len(), 2);

    let error = sink
        .wait_for(3, Duration::from_millis(50))
        .await
        .expect_err("a third never comes");
    let error = error.to_string();
    assert!(error.contains("expected 3 message(s)"), "{error}");
    assert!(error.contains("#2 to ann@example.com (two)"), "{error}");

    sink.clear();
    assert_eq!(sink.count(), 0);
    assert_eq!(sink.stats().messages, 2, "clear keeps the counters");
}

#[tokio::test]
async fn many_clients_are_served_at_once() {
    let sink = sink().await;
    let mut clients = Vec::new();
    // Every connection is open before any sends, so none is served only after another ends.
    for _ in 0..20 {
        clients.push(Raw::greeted(&sink).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, mut raw) in clients.into_iter().enumerate() {
        tasks.spawn(async move {
            send_message(&mut raw, &format!("payer{n}@example.com"), "hello").await;
            raw.reply().await.code
        });
    }
    while let Some(code) = tasks.join_next().await {
        assert_eq!(code.expect("the client ran"), 250);
    }
    assert_eq!(sink.count(), 20);
    assert_eq!(sink.messages_to("payer7@example.com").len(), 1);
    assert_eq!(sink.stats().connections, 20);
}

#[tokio::test]
async fn stopping_the_sink_closes_its_port_and_connections() {
    let sink = sink().await;
    let addr = sink.addr();
    let control = sink.control();
    let mut raw = Raw::greeted(&sink).await;
    send_message(&mut raw, "ann@example.com", "before").await;
    assert_eq!(raw.reply().await.code, 250);
    sink.shutdown().await;
    assert!(raw.closed_silently().await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(control.count(), 1, "the records outlive the sink");

    let dropped = MailSink::start(SinkConfig::default())
        .await
        .expect("starts");
    let mut raw = Raw::greeted(&dropped).await;
    drop(dropped);
    assert!(raw.closed_silently().await);
}

#[tokio::test]
async fn run_serves_until_dropped() {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(mail_sink::run(
        SinkConfig::default(),
        move |addr, control| {
            let _ = ready_tx.send((addr, control));
        },
    ));
    let (addr, control) = ready_rx.await.expect("the sink is ready");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let mut greeting = [0u8; 3];
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut greeting)
        .await
        .expect("the greeting reads");
    assert_eq!(&greeting, b"220");
    drop(stream);
    running.abort();
    let _aborted = running.await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(control.stats().connections, 1);
}

#[tokio::test]
async fn a_421_reaches_a_client_that_had_pipelined_more() {
    let sink = sink().await;
    sink.defer_next(1);
    let mut raw = Raw::connect(&sink).await;
    raw.send(
        "EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
    )
    .await;
    assert_eq!(raw.reply().await.code, 250);
    assert_eq!(raw.reply().await.code, 421);
    assert!(raw.closed_silently().await);
}
