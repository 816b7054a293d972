//! The sending side of mail to payers: the SMTP connection paylink holds (a pool, through
//! lettre), the sender, and one limit for the whole fleet (`email.rate_per_sec`, through Redis
//! like Stripe's, or in this process on the embedded queue). What a try came to is a
//! [`MailTry`]; the `send_email` job decides from it (`crate::domain::after_try`).
//!
//! `smtp://user:pass@host:587` must be encrypted with STARTTLS unless the host is loopback (a
//! local relay, the tests' mail sink); `smtps://host:465` is TLS from the first byte. Either
//! way the password travels only inside TLS, and it is held as a secret (never logged).
//! `smtp://host:1025?tls=off` is plain SMTP to a host that is not loopback, asked for by name:
//! for a catcher such as Mailpit on a private network (the compose demo). It carries no
//! credentials, and production refuses it (docs/email.md, "Setting up sending").

use std::net::IpAddr;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

use lettre::message::Mailbox;

use crate::domain::MailTry;
use crate::mail::{MailTemplates, new_message_id, parse_mailbox};
use crate::stripe::RateLimiter;

/// How long connecting may take, and then the whole of one mail's conversation, before the try
/// counts as a lost connection. lettre's own timeout bounds only the connecting.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to send, as the settings give it.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// `smtp://…` or `smtps://…`, with the credentials in it: a secret.
    pub url: SecretString,
}

/// A mail server URL paylink cannot use; the message names what is wrong, never the password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmtpUrlError(pub String);

/// The SMTP connection(s) and the fleet's pace.
pub struct Smtp {
    /// The pooled connections. Replaced after a send that timed out: lettre would put the
    /// cancelled send's connection back in its pool as healthy, out of step with the server
    /// (docs/mail-sink.md, "What it shows of lettre").
    transport: std::sync::Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    limiter: RateLimiter,
    /// `host:port`, for messages (no credentials).
    pub server: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// The transport for `settings.url`, paced by `limiter`.
    pub fn new(settings: &SmtpSettings, limiter: RateLimiter) -> Result<Self, SmtpUrlError> {
        let raw = settings.url.expose_secret();
        let url = url::Url::parse(raw).map_err(|e| {
            SmtpUrlError(format!(
                "PAYLINK__EMAIL__SMTP_URL is not a URL ({e}); write smtp://user:pass@host:587 or smtps://user:pass@host:465"
            ))
        })?;
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| SmtpUrlError("PAYLINK__EMAIL__SMTP_URL names no host".into()))?;
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let tls_for = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| {
                SmtpUrlError(format!("cannot set up TLS for the mail server {host}: {e}"))
            })
        };
        let tls_off = asks_for_plain_smtp(&url)?;
        if tls_off && (url.scheme() != "smtp" || !url.username().is_empty()) {
            return Err(SmtpUrlError(
                "PAYLINK__EMAIL__SMTP_URL's ?tls=off is for smtp:// without a user or password \
                 (a password never travels in clear)"
                    .into(),
            ));
        }
        let (tls, default_port) = match url.scheme() {
            "smtps" => (Tls::Wrapper(tls_for(&host)?), 465),
            "smtp" if loopback || tls_off => (Tls::None, 25),
            "smtp" => (Tls::Required(tls_for(&host)?), 587),
            other => {
                return Err(SmtpUrlError(format!(
                    "PAYLINK__EMAIL__SMTP_URL has the scheme {other}:// ; write smtp:// (STARTTLS, \
                     required unless the host is loopback) or smtps:// (TLS)"
                )));
            }
        };
        let port = url.port().unwrap_or(default_port);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(4));
        if !url.username().is_empty() {
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    SmtpUrlError(
                        "PAYLINK__EMAIL__SMTP_URL's user or password is not valid percent-encoded UTF-8"
                            .into(),
                    )
                })
            };
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: std::sync::Mutex::new(builder.clone().build()),
            builder,
            limiter,
            server: format!("{host}:{port}"),
        })
    }

    /// Sends one message at the fleet's pace. Never an error: what the server (or the lack of
    /// one) said, classified.
    pub async fn send(&self, message: lettre::Message) -> MailTry {
        self.limiter.acquire().await;
        let transport = self.transport();
        match tokio::time::timeout(SMTP_TIMEOUT, transport.send(message)).await {
            Ok(Ok(response)) => MailTry::Accepted(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Ok(Err(e)) if e.is_permanent() => MailTry::Permanent(describe(&e)),
            Ok(Err(e)) => MailTry::Temporary(describe(&e)),
            Err(_) => {
                self.replace_transport();
                MailTry::Temporary(format!(
                    "{} did not finish the mail within {} s",
                    self.server,
                    SMTP_TIMEOUT.as_secs()
                ))
            }
        }
    }

    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        match self.transport.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace_transport(&self) {
        let fresh = self.builder.clone().build();
        match self.transport.lock() {
            Ok(mut t) => *t = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// Connects, greets, starts TLS and authenticates, without sending (`paylink doctor`).
    pub async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(SMTP_TIMEOUT, self.transport().test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!("{} did not answer NOOP", self.server)),
            Ok(Err(e)) => Err(describe(&e)),
            Err(_) => Err(format!(
                "{} did not answer within {} s",
                self.server,
                SMTP_TIMEOUT.as_secs()
            )),
        }
    }
}

/// Everything a `send_email` job needs: the connection, the templates, the sender.
pub struct Mailer {
    pub smtp: Smtp,
    pub templates: MailTemplates,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// Tries per mail before it is `failed` (4xx replies and lost connections).
    pub max_attempts: u32,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("smtp", &self.smtp)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The `email.*` settings, as the loader read them.
#[derive(Clone, Debug)]
pub struct MailSettings {
    pub smtp: SmtpSettings,
    pub from: String,
    pub reply_to: Option<String>,
    pub templates_dir: Option<std::path::PathBuf>,
}

/// Tries per mail before it is `failed`: with the backoff below, about 50 minutes of a server
/// answering 4xx or not at all.
pub const MAX_MAIL_ATTEMPTS: u32 = 10;

impl Mailer {
    /// Reads the sender, the server URL and the templates (each rendered once: a broken
    /// template stops start-up, naming its file and line).
    pub fn new(settings: &MailSettings, limiter: RateLimiter) -> anyhow::Result<Self> {
        let from = parse_mailbox(&settings.from)
            .map_err(|e| anyhow::anyhow!("PAYLINK__EMAIL__FROM: {e}"))?;
        let reply_to = settings
            .reply_to
            .as_deref()
            .map(parse_mailbox)
            .transpose()
            .map_err(|e| anyhow::anyhow!("PAYLINK__EMAIL__REPLY_TO: {e}"))?;
        let templates = MailTemplates::load(settings.templates_dir.as_deref())?;
        Ok(Self {
            smtp: Smtp::new(&settings.smtp, limiter)?,
            templates,
            from,
            reply_to,
            max_attempts: MAX_MAIL_ATTEMPTS,
        })
    }

    /// A Message-ID for a mail about to be queued, on the sender's domain.
    pub fn message_id(&self) -> String {
        new_message_id(self.from.email.domain())
    }

    /// The sender's display name, or its address: the templates' `organisation`.
    pub fn organisation(&self) -> String {
        self.from
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.from.email.to_string())
    }

    /// How long a deferred mail waits before try number `attempts + 1`: 10 s doubling, capped at
    /// 15 minutes.
    pub fn backoff(attempts: u32) -> Duration {
        Duration::from_secs(10)
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(10))
            .min(Duration::from_secs(15 * 60))
    }
}

/// The error with its causes, on one line.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Whether `raw` asks for plain SMTP by name (`?tls=off`); production refuses such a URL.
pub fn turns_tls_off(raw: &SecretString) -> bool {
    url::Url::parse(raw.expose_secret())
        .ok()
        .is_some_and(|url| asks_for_plain_smtp(&url).unwrap_or(false))
}

/// `?tls=off`, the one query a mail server URL may carry; anything else is an error naming it.
fn asks_for_plain_smtp(url: &url::Url) -> Result<bool, SmtpUrlError> {
    let pairs: Vec<_> = url.query_pairs().collect();
    match pairs.as_slice() {
        [] => Ok(false),
        [(key, value)] if key == "tls" && value == "off" => Ok(true),
        _ => Err(SmtpUrlError(format!(
            "PAYLINK__EMAIL__SMTP_URL has the query ?{}; the only one it takes is ?tls=off \
             (plain SMTP to a catcher on a private network)",
            url.query().unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<Smtp, SmtpUrlError> {
        Smtp::new(
            &SmtpSettings {
                url: SecretString::from(url),
            },
            RateLimiter::local(10),
        )
    }

    // lettre's pool spawns its housekeeping on the runtime: build transports inside one.
    #[tokio::test]
    async fn plain_smtp_is_for_loopback_only_and_the_scheme_and_host_are_checked() {
        assert_eq!(
            smtp("smtp://127.0.0.1:2525").unwrap().server,
            "127.0.0.1:2525"
        );
        assert_eq!(smtp("smtp://[::1]:2525").unwrap().server, "::1:2525");
        assert_eq!(
            smtp("smtp://u:p@mail.example.org").unwrap().server,
            "mail.example.org:587"
        );
        assert_eq!(
            smtp("smtps://mail.example.org").unwrap().server,
            "mail.example.org:465"
        );
        let e = smtp("http://mail.example.org").unwrap_err().0;
        assert!(e.contains("scheme http://"), "{e}");
        let e = smtp("not a url").unwrap_err().0;
        assert!(e.contains("not a URL"), "{e}");
    }

    #[tokio::test]
    async fn plain_smtp_elsewhere_is_asked_for_by_name_and_carries_no_password() {
        assert_eq!(
            smtp("smtp://mailpit:1025?tls=off").unwrap().server,
            "mailpit:1025"
        );
        assert!(turns_tls_off(&SecretString::from(
            "smtp://mailpit:1025?tls=off"
        )));
        assert!(!turns_tls_off(&SecretString::from("smtp://mailpit:1025")));
        let e = smtp("smtp://u:hunter2@mailpit:1025?tls=off").unwrap_err().0;
        assert!(
            e.contains("never travels in clear") && !e.contains("hunter2"),
            "{e}"
        );
        let e = smtp("smtps://mailpit?tls=off").unwrap_err().0;
        assert!(e.contains("?tls=off is for smtp://"), "{e}");
        let e = smtp("smtp://mailpit:1025?tls=no").unwrap_err().0;
        assert!(e.contains("the query ?tls=no"), "{e}");
    }

    #[tokio::test]
    async fn an_error_never_shows_the_password() {
        let e = smtp("ftp://user:hunter2@mail.example.org").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decode("a%40b%3Ac").as_deref(), Some("a@b:c"));
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
    }
}
