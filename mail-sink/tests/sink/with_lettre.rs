//! The sink as paylink meets it: through lettre's pooled async transport over plain SMTP,
//! reached with `AsyncSmtpTransport::from_url(sink.smtp_url())`.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Mechanism;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mail_sink::{MailSink, SinkConfig};

type Mailer = AsyncSmtpTransport<Tokio1Executor>;

async fn sink() -> MailSink {
    MailSink::start(SinkConfig::default())
        .await
        .expect("the sink starts")
}

fn mailer(url: &str) -> Mailer {
    Mailer::from_url(url).expect("a plain smtp:// URL").build()
}

fn mailbox(text: &str) -> Mailbox {
    text.parse().expect("a mailbox")
}

fn message(to: &str, subject: &str) -> Message {
    Message::builder()
        .from(mailbox("Paylink <noreply@paylink.test>"))
        .to(mailbox(to))
        .subject(subject)
        .body(format!("Pay here: {subject}\n"))
        .expect("a message")
}

#[tokio::test]
async fn a_multipart_alternative_message_comes_back_decoded() {
    let sink = sink().await;
    let text = "Hello Zoë,\n\nyour pay link for €12.50 is https://pay.example/p/abc?x=1&y=2\n";
    let html = "<p>Hello Zoë,</p>\n<p><a href=\"https://pay.example/p/abc?x=1&amp;y=2\">Pay €12.50</a></p>\n";
    let email = Message::builder()
        .from(mailbox("Paylink <noreply@paylink.test>"))
        .reply_to(mailbox("Organiser <org@example.com>"))
        .to(mailbox("Zoë Payer <zoe@example.com>"))
        .subject("Your pay link — €12.50")
        .message_id(Some("<link-1@paylink.test>".to_owned()))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder().header(ContentType::TEXT_PLAIN).body(
                        Body::new_with_encoding(
                            text.to_owned(),
                            ContentTransferEncoding::QuotedPrintable,
                        )
                        .expect("quoted-printable"),
                    ),
                )
                .singlepart(
                    SinglePart::builder().header(ContentType::TEXT_HTML).body(
                        Body::new_with_encoding(html.to_owned(), ContentTransferEncoding::Base64)
                            .expect("base64"),
                    ),
                ),
        )
        .expect("a message");
    mailer(&sink.smtp_url()).send(email).await.expect("sent");

    let received = sink
        .wait_for(1, Duration::from_secs(5))
        .await
        .expect("arrived");
    let mail = &received[0];
    let raw = mail.raw_text();
    assert!(
        raw.contains("Content-Transfer-Encoding: quoted-printable"),
        "{raw}"
    );
    assert!(raw.contains("Content-Transfer-Encoding: base64"), "{raw}");
    assert!(!raw.contains("€"), "the wire carries it encoded: {raw}");
    assert_eq!(mail.mail_from, "noreply@paylink.test");
    assert_eq!(mail.rcpt_to, ["zoe@example.com"]);
    let parsed = &mail.parsed;
    assert_eq!(parsed.message_id.as_deref(), Some("link-1@paylink.test"));
    assert_eq!(parsed.subject.as_deref(), Some("Your pay link — €12.50"));
    assert_eq!(parsed.from[0].address, "noreply@paylink.test");
    assert_eq!(parsed.from[0].name.as_deref(), Some("Paylink"));
    assert_eq!(parsed.to[0].name.as_deref(), Some("Zoë Payer"));
    assert_eq!(parsed.to_addresses(), ["zoe@example.com"]);
    assert_eq!(parsed.reply_to[0].address, "org@example.com");
    // lettre writes CRLF line endings; the decoded bodies keep them.
    assert_eq!(
        parsed.text.as_deref(),
        Some(text.replace('\n', "\r\n").as_str())
    );
    assert_eq!(
        parsed.html.as_deref(),
        Some(html.replace('\n', "\r\n").as_str())
    );
    assert_eq!(parsed.header("MIME-Version"), Some("1.0"));
}

#[tokio::test]
async fn an_eight_bit_body_is_declared_with_body_8bitmime() {
    let sink = sink().await;
    let email = Message::builder()
        .from(mailbox("noreply@paylink.test"))
        .to(mailbox("ann@example.com"))
        .subject("8bit")
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::EightBit)
        .body("Grüße\n".to_owned())
        .expect("a message");
    mailer(&sink.smtp_url()).send(email).await.expect("sent");
    let mail = &sink.messages()[0];
    assert_eq!(mail.mail_params, ["BODY=8BITMIME"]);
    // lettre always closes the data with CRLF.CRLF of its own, so a body that ends in a line
    // break arrives with one empty line more (RFC 5321 4.1.1.4: the first CRLF ends the last
    // line).
    assert_eq!(mail.parsed.text.as_deref(), Some("Grüße\r\n\r\n"));
}

#[tokio::test]
async fn the_pool_sends_many_messages_over_one_connection() {
    let sink = sink().await;
    let mailer = mailer(&sink.smtp_url());
    for n in 0..5 {
        mailer
            .send(message("ann@example.com", &format!("number {n}")))
            .await
            .expect("sent");
        // lettre returns a connection to its pool on a task of its own: let it run.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.count(), 5);
    assert_eq!(sink.stats().connections, 1);
}

#[tokio::test]
async fn concurrent_sends_all_arrive() {
    let sink = sink().await;
    let mailer = mailer(&sink.smtp_url());
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..30 {
        let mailer = mailer.clone();
        sends.spawn(async move {
            mailer
                .send(message(&format!("payer{n}@example.com"), "your link"))
                .await
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("the send ran").expect("sent");
    }
    let received = sink
        .wait_for(30, Duration::from_secs(5))
        .await
        .expect("all arrived");
    assert_eq!(received.len(), 30);
    for n in 0..30 {
        assert_eq!(sink.messages_to(&format!("payer{n}@example.com")).len(), 1);
    }
}

#[tokio::test]
async fn credentials_in_the_url_authenticate_with_plain_or_login() {
    let sink = sink().await;
    let url = format!("smtp://paylink:s3cret@{}", sink.addr());
    mailer(&url)
        .send(message("ann@example.com", "plain"))
        .await
        .expect("sent");
    let login = Mailer::from_url(&url)
        .expect("a URL")
        .authentication(vec![Mechanism::Login])
        .build();
    login
        .send(message("ann@example.com", "login"))
        .await
        .expect("sent");
    let messages = sink.messages();
    assert_eq!(messages[0].auth_user.as_deref(), Some("paylink"));
    assert_eq!(messages[1].auth_user.as_deref(), Some("paylink"));
    assert_eq!(sink.stats().authentications, 2);
}

#[tokio::test]
async fn a_refused_recipient_fails_the_send_permanently_and_is_not_recorded() {
    let sink = sink().await;
    sink.refuse_recipient("gone@example.com");
    let mailer = mailer(&sink.smtp_url());
    let error = mailer
        .send(message("gone@example.com", "bounce"))
        .await
        .expect_err("refused");
    assert!(error.is_permanent(), "{error}");
    assert_eq!(error.status().map(u16::from), Some(550));
    assert_eq!(sink.count(), 0);
    assert_eq!(sink.refusals()[0].rcpt, "gone@example.com");
    // One refused recipient among several fails the whole message.
    let both = Message::builder()
        .from(mailbox("noreply@paylink.test"))
        .to(mailbox("ann@example.com"))
        .to(mailbox("gone@example.com"))
        .subject("two")
        .body("hi\n".to_owned())
        .expect("a message");
    assert!(mailer.send(both).await.is_err());
    assert_eq!(sink.count(), 0);
    // The same transport goes on to the next payer.
    mailer
        .send(message("ann@example.com", "fine"))
        .await
        .expect("sent");
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn after_two_421s_the_third_try_goes_through() {
    let sink = sink().await;
    sink.defer_next(2);
    let mailer = mailer(&sink.smtp_url());
    for _ in 0..2 {
        let error = mailer
            .send(message("ann@example.com", "retry me"))
            .await
            .expect_err("deferred");
        assert!(error.is_transient(), "{error}");
        assert_eq!(error.status().map(u16::from), Some(421));
    }
    mailer
        .send(message("ann@example.com", "retry me"))
        .await
        .expect("sent");
    assert_eq!(sink.count(), 1);
    assert_eq!(sink.deferrals().len(), 2);
}

#[tokio::test]
async fn a_reply_lost_after_data_is_an_error_to_lettre_and_a_resend_a_duplicate() {
    let sink = sink().await;
    sink.drop_after_data_next(1);
    let mailer = mailer(&sink.smtp_url());
    let email = message("ann@example.com", "once");
    let error = mailer.send(email.clone()).await.expect_err("no reply");
    assert!(
        !error.is_permanent() && !error.is_transient(),
        "not an SMTP reply: {error}"
    );
    assert_eq!(sink.count(), 1, "recorded once");
    assert!(sink.messages()[0].reply_lost);

    mailer.send(email).await.expect("the resend is answered");
    let messages = sink.messages_to("ann@example.com");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].parsed.message_id, messages[1].parsed.message_id);
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_slow_reply_leaves_the_message_delivered() {
    let sink = sink().await;
    sink.set_delay(Duration::from_secs(2));
    let mailer = mailer(&sink.smtp_url());
    // lettre's own `timeout` bounds only connecting: the caller bounds the send.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        mailer.send(message("ann@example.com", "slow")),
    )
    .await;
    assert!(gave_up.is_err(), "{gave_up:?}");
    assert_eq!(sink.count(), 1);
    assert_eq!(sink.stats().delayed_messages, 1);
}

/// What paylink's mailer must guard against, shown here because only a server that can be
/// slowed on purpose shows it: a send cancelled while waiting for its reply returns its pooled
/// connection to the pool as if healthy, and the next send on it reads the replies meant for
/// the one before. lettre then reports the next message sent on the strength of DATA's 354.
/// So after a timed-out send, the transport (and its pool) must be dropped and built anew.
#[tokio::test]
async fn a_cancelled_send_leaves_lettres_pooled_connection_out_of_step() {
    let sink = sink().await;
    let mailer = mailer(&sink.smtp_url());
    sink.set_delay(Duration::from_millis(500));
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        mailer.send(message("ann@example.com", "one")),
    )
    .await;
    assert!(gave_up.is_err());
    sink.set_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(700)).await;

    let answer = mailer
        .send(message("bob@example.com", "two"))
        .await
        .expect("lettre believes it sent");
    assert_eq!(u16::from(answer.code()), 354, "out of step: {answer:?}");

    let fresh = self::mailer(&sink.smtp_url());
    let answer = fresh
        .send(message("cy@example.com", "three"))
        .await
        .expect("sent");
    assert_eq!(u16::from(answer.code()), 250);
}
