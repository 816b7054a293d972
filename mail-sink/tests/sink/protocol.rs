//! RFC 5321 as a real server keeps it, over a raw connection: the greeting and EHLO, many
//! transactions per connection, dot-stuffing, pipelining, bad sequences and bad syntax.

use std::time::Duration;

use mail_sink::{MailSink, SinkConfig};

use crate::raw::Raw;

async fn sink() -> MailSink {
    MailSink::start(SinkConfig::default())
        .await
        .expect("the sink starts")
}

#[tokio::test]
async fn ehlo_advertises_the_extensions_and_helo_is_plain() {
    let sink = sink().await;
    assert_eq!(
        sink.smtp_url(),
        format!("smtp://127.0.0.1:{}", sink.addr().port())
    );
    let mut raw = Raw::connect(&sink).await;
    let ehlo = raw.expect("EHLO client.test", 250).await;
    assert_eq!(
        ehlo.lines[1..],
        [
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "SIZE 10485760",
            "AUTH PLAIN LOGIN"
        ]
    );
    let helo = raw.expect("HELO client.test", 250).await;
    assert_eq!(helo.lines.len(), 1);
    raw.expect("EHLO", 501).await;
    raw.expect("QUIT", 221).await;
    assert!(raw.closed_silently().await);
}

#[tokio::test]
async fn messages_are_dot_unstuffed_and_many_go_over_one_connection() {
    let sink = sink().await;
    let mut raw = Raw::greeted(&sink).await;
    for n in 1..=3 {
        raw.expect("MAIL FROM:<noreply@paylink.test>", 250).await;
        raw.expect("RCPT TO:<ann@example.com>", 250).await;
        raw.expect("DATA", 354).await;
        raw.send(&format!(
            "Subject: number {n}\r\n\r\n..one dot\r\n...two dots\r\n .space first\r\nlast\r\n.\r\n"
        ))
        .await;
        let queued = raw.reply().await;
        assert_eq!(queued.code, 250, "{queued:?}");
        assert_eq!(queued.text(), format!("2.0.0 Ok: queued as {n}"));
    }
    raw.expect("NOOP", 250).await;
    raw.expect("RSET", 250).await;
    raw.expect("QUIT", 221).await;

    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[2].raw_text(),
        "Subject: number 3\r\n\r\n.one dot\r\n..two dots\r\n .space first\r\nlast\r\n"
    );
    assert_eq!(messages[2].parsed.subject.as_deref(), Some("number 3"));
    assert_eq!(messages[0].mail_from, "noreply@paylink.test");
    assert_eq!(messages[0].rcpt_to, ["ann@example.com"]);
    assert_eq!(messages[0].helo, "client.test");
    assert_eq!(sink.stats().connections, 1);
}

#[tokio::test]
async fn only_crlf_dot_crlf_ends_a_message() {
    let sink = sink().await;
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("MAIL FROM:<a@example.com>", 250).await;
    raw.expect("RCPT TO:<b@example.com>", 250).await;
    raw.expect("DATA", 354).await;
    // A dot after a bare LF (SMTP smuggling) is content, and so is what follows it.
    raw.send("Subject: one\r\n\r\nhi\n.\r\nMAIL FROM:<evil@example.com>\r\n.\r\n")
        .await;
    assert_eq!(raw.reply().await.code, 250);
    raw.expect("NOOP", 250).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0]
            .raw_text()
            .ends_with("hi\n\r\nMAIL FROM:<evil@example.com>\r\n")
    );
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let sink = sink().await;
    sink.refuse_recipient("gone@example.com");
    let mut raw = Raw::connect(&sink).await;
    raw.send(
        "EHLO client.test\r\nMAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\n\
         RCPT TO:<gone@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n",
    )
    .await;
    let codes = [250, 250, 250, 550, 250, 354];
    for code in codes {
        assert_eq!(raw.reply().await.code, code);
    }
    // The message's end, and the next transaction, in one write.
    raw.send("Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@example.com>\r\nRSET\r\nQUIT\r\n")
        .await;
    for code in [250, 250, 250, 250, 221] {
        assert_eq!(raw.reply().await.code, code);
    }
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, ["b@example.com", "c@example.com"]);
    assert_eq!(messages[0].mail_params, ["BODY=8BITMIME"]);
}

#[tokio::test]
async fn commands_out_of_sequence_get_503() {
    let sink = sink().await;
    let mut raw = Raw::connect(&sink).await;
    raw.expect("MAIL FROM:<a@example.com>", 503).await;
    raw.expect("AUTH PLAIN AHVAcA==", 503).await;
    raw.expect("EHLO client.test", 250).await;
    raw.expect("RCPT TO:<b@example.com>", 503).await;
    raw.expect("DATA", 503).await;
    raw.expect("MAIL FROM:<a@example.com>", 250).await;
    raw.expect("MAIL FROM:<a@example.com>", 503).await;
    // MAIL accepted, no recipient yet: no valid recipients.
    raw.expect("DATA", 554).await;
    raw.expect("AUTH PLAIN AHVAcA==", 503).await;
    raw.expect("RSET", 250).await;
    raw.expect("DATA", 503).await;
    // EHLO ends a transaction as RSET does.
    raw.expect("MAIL FROM:<a@example.com>", 250).await;
    raw.expect("EHLO client.test", 250).await;
    raw.expect("RCPT TO:<b@example.com>", 503).await;
    raw.expect("QUIT", 221).await;
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn unknown_commands_and_bad_arguments_are_refused() {
    let sink = sink().await;
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("FROB", 500).await;
    raw.expect("BDAT 10 LAST", 500).await;
    raw.expect("EXPN staff", 502).await;
    raw.expect("STARTTLS", 502).await;
    raw.expect("HELP", 214).await;
    raw.expect("VRFY ann@example.com", 252).await;
    raw.expect("VRFY", 501).await;
    raw.expect("MAIL FROM:noreply@paylink.test", 501).await;
    raw.expect("MAIL FROM:<a@example.com> NOTIFY=NEVER", 555)
        .await;
    raw.expect("MAIL FROM:<a@example.com> SIZE=big", 501).await;
    raw.expect("MAIL FROM:<a@example.com> SIZE=99999999999", 552)
        .await;
    raw.expect("MAIL FROM:<pä@example.com>", 553).await;
    raw.expect("MAIL FROM:<a@example.com>", 250).await;
    raw.expect("RCPT TO:<>", 501).await;
    raw.expect("RCPT TO:<b@example.com> NOTIFY=NEVER", 555)
        .await;
    raw.expect("RCPT TO:<pä@exämple.test>", 553).await;
    raw.expect("RSET now", 501).await;
    raw.expect("DATA now", 501).await;
    raw.expect(&"X".repeat(13_000), 500).await;
    raw.expect("NOOP", 250).await;
    // HELO allows no MAIL parameters.
    raw.expect("HELO client.test", 250).await;
    raw.expect("MAIL FROM:<a@example.com> BODY=8BITMIME", 555)
        .await;
}

#[tokio::test]
async fn smtputf8_allows_non_ascii_addresses() {
    let sink = sink().await;
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("MAIL FROM:<pä@exämple.test> SMTPUTF8", 250)
        .await;
    raw.expect("RCPT TO:<ñ@exämple.test>", 250).await;
    raw.expect("DATA", 354).await;
    raw.send("Subject: é\r\n\r\nhé\r\n.\r\n").await;
    assert_eq!(raw.reply().await.code, 250);
    let messages = sink.messages_to("Ñ@exämple.test");
    assert!(messages.is_empty(), "only ASCII case is ignored");
    let messages = sink.messages_to("ñ@EXäMPLE.test");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].mail_params, ["SMTPUTF8"]);
}

#[tokio::test]
async fn a_message_past_the_size_limit_is_refused_and_not_recorded() {
    let sink = MailSink::start(SinkConfig {
        max_message_size: 100,
        ..SinkConfig::default()
    })
    .await
    .expect("the sink starts");
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("MAIL FROM:<a@example.com> SIZE=101", 552).await;
    raw.expect("MAIL FROM:<a@example.com> SIZE=100", 250).await;
    raw.expect("RCPT TO:<b@example.com>", 250).await;
    raw.expect("DATA", 354).await;
    raw.send(&format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(200)))
        .await;
    assert_eq!(raw.reply().await.code, 552);
    raw.expect("NOOP", 250).await;
    assert_eq!(sink.count(), 0);
    assert_eq!(sink.stats().oversized_messages, 1);
}

#[tokio::test]
async fn auth_plain_and_login_accept_any_credentials() {
    let sink = sink().await;
    let mut raw = Raw::greeted(&sink).await;
    raw.expect("AUTH CRAM-MD5", 504).await;
    raw.expect("AUTH PLAIN", 334).await;
    raw.expect("*", 501).await;
    raw.expect("AUTH PLAIN bm90IGJhc2U2NA", 501).await;
    raw.expect("AUTH LOGIN", 334).await;
    // "Username:", "Password:".
    raw.expect("YW5u", 334).await;
    raw.expect("c2VjcmV0", 235).await;
    raw.expect("AUTH PLAIN AGFubgBzZWNyZXQ=", 503).await;
    raw.expect("MAIL FROM:<a@example.com> AUTH=<>", 250).await;
    raw.expect("RCPT TO:<b@example.com>", 250).await;
    raw.expect("DATA", 354).await;
    raw.send("Subject: authed\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(raw.reply().await.code, 250);

    let mut plain = Raw::greeted(&sink).await;
    // authzid NUL "paylink" NUL "pw", in one line.
    plain.expect("AUTH PLAIN AHBheWxpbmsAcHc=", 235).await;

    assert_eq!(sink.messages()[0].auth_user.as_deref(), Some("ann"));
    assert_eq!(sink.stats().authentications, 2);
}

#[tokio::test]
async fn an_idle_client_is_told_and_closed() {
    let sink = MailSink::start(SinkConfig {
        idle_timeout: Duration::from_millis(200),
        ..SinkConfig::default()
    })
    .await
    .expect("the sink starts");
    let mut raw = Raw::connect(&sink).await;
    let reply = raw.reply().await;
    assert_eq!(reply.code, 421);
    assert!(raw.closed_silently().await);
}
