//! The mail check (docs/email.md): the settings read as the workers read them (sender, server
//! URL, templates), then a connection to the server: greeting, EHLO, STARTTLS (unless the host
//! is loopback) and AUTH, without sending. With `--send-test-email ADDRESS`, one pay-link mail
//! with sample content goes to ADDRESS, as the workers would send it.

use paylink_core::domain::format_money;
use paylink_core::mail::{PayLinkMail, pay_link_message};
use paylink_core::mailer::Mailer;
use paylink_core::stripe::RateLimiter;

use super::report::Report;
use crate::config::Settings;

pub(super) async fn check(settings: &Settings, send_test_to: Option<&str>, report: &mut Report) {
    let mail = match settings.mail_settings() {
        Ok(Some(mail)) => mail,
        Ok(None) => {
            match send_test_to {
                Some(_) => report.fail(
                    "mail",
                    "sending is off (PAYLINK__EMAIL__SMTP_URL is unset), so no test mail can go.",
                    "set PAYLINK__EMAIL__SMTP_URL and PAYLINK__EMAIL__FROM (docs/email.md).",
                ),
                None => report.ok(
                    "mail",
                    "sending is off (PAYLINK__EMAIL__SMTP_URL is unset): payers are not mailed their pay links (docs/email.md).",
                ),
            }
            return;
        }
        Err(e) => {
            report.fail("mail", e.0, "docs/email.md lists the mail settings.");
            return;
        }
    };
    let mailer = match Mailer::new(&mail, RateLimiter::local(1)) {
        Ok(mailer) => mailer,
        Err(e) => {
            report.fail(
                "mail",
                format!("{e:#}."),
                "fix the setting or the template named (docs/email.md).",
            );
            return;
        }
    };
    match mailer.smtp.check().await {
        Ok(()) => report.ok(
            "mail",
            format!(
                "{} answered, and took paylink's TLS and login (if any); the templates render.",
                mailer.smtp.server
            ),
        ),
        Err(e) => {
            report.fail(
                "mail",
                format!("{}: {e}.", mailer.smtp.server),
                "check PAYLINK__EMAIL__SMTP_URL: its host, port, user and password, and smtp:// (STARTTLS) against smtps:// (TLS).",
            );
            return;
        }
    }
    let Some(address) = send_test_to else {
        return;
    };
    let sample = PayLinkMail {
        organisation: mailer.organisation(),
        payer_name: "paylink doctor".into(),
        product: "Test mail".into(),
        amount: format_money(4500, "usd"),
        pay_url: format!(
            "{}/pay/test-from-paylink-doctor",
            settings.public_base_url.trim_end_matches('/')
        ),
        message: Some("This is a test from `paylink doctor --send-test-email`.".into()),
    };
    let message = mailer
        .templates
        .render_pay_link(&sample)
        .map_err(|e| e.to_string())
        .and_then(|rendered| {
            pay_link_message(
                &mailer.from,
                mailer.reply_to.as_ref(),
                ("", address),
                &mailer.message_id(),
                &rendered,
            )
            .map_err(|e| e.to_string())
        });
    let message = match message {
        Ok(message) => message,
        Err(e) => {
            report.fail("test mail", e, "give an address such as you@example.org.");
            return;
        }
    };
    match mailer.smtp.send(message).await {
        paylink_core::domain::MailTry::Accepted(reply) => {
            report.ok("test mail", format!("sent to {address}: {reply}"))
        }
        paylink_core::domain::MailTry::Permanent(reply)
        | paylink_core::domain::MailTry::Temporary(reply) => report.fail(
            "test mail",
            format!(
                "{} did not take the mail to {address}: {reply}.",
                mailer.smtp.server
            ),
            "check the address, and the sender your provider allows (PAYLINK__EMAIL__FROM).",
        ),
    }
}
