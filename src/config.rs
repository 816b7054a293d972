//! Settings: `config/default.toml`, then `config/{PAYLINK_ENV}.toml`, then `PAYLINK__SECTION__KEY`
//! environment variables. Secrets (Stripe key, webhook secrets, admin token) are accepted only
//! from the environment and held as `SecretString`, so they never reach logs or error pages.
//!
//! Secrets are taken from the environment exactly as written (figment would read `0123` or
//! `1e3` as a number and change them) and any scalar is accepted as one, so no secret ever
//! ends up quoted in a type error. `PAYLINK_ENV=production` refuses what is only safe on a
//! developer's machine (see [`Settings::check_production`]).

use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use paylink_core::policy::Policy;
use paylink_core::stripe::StripeSettings;
use paylink_core::{RetrySettings, WorkerSettings};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

pub mod catalog;
mod defaults;
mod error;
pub mod production;
mod secret;
pub mod variables;

pub use error::ConfigError;

/// The Stripe key used when `stripe.api_base` is not Stripe's own (the stand-in accepts any
/// `sk_test_…` key).
const STAND_IN_KEY: &str = "sk_test_paylink_stand_in";

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// `PAYLINK_ENV` as [`Settings::load`] read it (empty for settings built in code).
    #[serde(skip)]
    pub environment: String,
    pub http: HttpSettings,
    pub public_base_url: String,
    pub database: DatabaseSettings,
    pub queue: QueueSettings,
    pub stripe: StripeConfig,
    pub admin: AdminSettings,
    pub policy: PolicyConfig,
    pub workers: WorkersConfig,
    pub reconcile: ReconcileConfig,
    pub outbound: OutboundConfig,
    pub email: EmailConfig,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
pub struct HttpSettings {
    pub addr: String,
    /// Where to serve the intake's `/metrics` instead of `addr` (unset: on `addr`).
    #[serde(default)]
    pub metrics_addr: Option<String>,
    /// A connection must send its request headers within this (also an idle keep-alive's life).
    pub header_read_timeout_secs: u64,
    /// The longest gap allowed between two chunks of a request body.
    pub body_read_timeout_secs: u64,
    /// The longest a whole request body may take, however steadily it trickles in.
    pub body_total_timeout_secs: u64,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// The longest any request may take, body included, before it is answered 503.
    pub request_timeout_secs: u64,
    /// Connections one client address (IPv6: /64) may hold at once; one more is answered 429
    /// and closed. 0: no cap of its own. Off behind a proxy (`client_ip_header` set), where
    /// every connection comes from the proxy.
    pub max_connections_per_client: usize,
    /// Behind a reverse proxy: the header carrying the client's address (e.g.
    /// `X-Forwarded-For`; its last entry is used). Unset: the connection's peer.
    #[serde(default)]
    pub client_ip_header: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`.
    pub url: String,
    pub max_connections: u32,
    /// Apply migrations when serve/work/run start.
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct QueueSettings {
    /// `redis://…`; unset means the embedded queue, in the SQLite database.
    pub url: Option<String>,
    /// Prefix of every queue key, so deployments can share one Redis.
    pub namespace: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StripeConfig {
    #[serde(default, deserialize_with = "secret::optional")]
    pub secret_key: Option<SecretString>,
    pub api_base: String,
    /// `whsec_…` secrets; several during a roll. Held as secrets, never logged.
    #[serde(default, deserialize_with = "secret::comma_separated")]
    pub webhook_secrets: Vec<SecretString>,
    /// How far a delivery's signed timestamp may be from now.
    pub webhook_tolerance_secs: u64,
    pub rate_limit_per_sec: u32,
    /// Stripe's limit on `POST /v1/payment_links` alone (25/s by default, in either mode),
    /// which a blast meets first; `paylink doctor` warns when `rate_limit_per_sec` is above it.
    pub payment_links_limit_per_sec: u32,
    pub request_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AdminSettings {
    #[serde(default, deserialize_with = "secret::optional")]
    pub token: Option<SecretString>,
    /// A dashboard session ends after this long without a request.
    pub session_idle_secs: u64,
    /// ... and this long after its login, however busy.
    pub session_max_age_secs: u64,
    /// Failed logins or bearer checks per client address in a minute before it gets 429 for
    /// the rest of the minute (0: no limit).
    pub max_failures_per_minute: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PolicyConfig {
    #[serde(deserialize_with = "comma_list")]
    pub save_card_categories: Vec<String>,
    #[serde(deserialize_with = "comma_list")]
    pub deactivate_on_paid_categories: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WorkersConfig {
    pub concurrency: usize,
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Stripe requests a payer's click may spend minting a link that is not ready yet.
    pub click_mint_attempts: u32,
    /// Most mint jobs due in Redis at once; the rest of a blast waits in the database.
    pub window: u64,
    /// How often each worker process tops the queue up from the database.
    pub feed_interval_ms: u64,
    /// After SIGTERM or Ctrl-C, how long in-flight jobs may take before the process exits anyway
    /// (their jobs come back to the queue when the process's heartbeat lapses).
    pub shutdown_grace_secs: u64,
    /// Where a `paylink work` process serves `/metrics` (unset: it serves nothing).
    #[serde(default)]
    pub metrics_addr: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReconcileConfig {
    /// How often each worker process runs the reconcile sweep (one at a time wins).
    pub interval_secs: u64,
    /// Work enqueued, or an order paid, this long ago and not done counts as lost.
    pub stale_after_secs: u64,
    /// How often the workers read Stripe's events for what webhooks missed.
    pub stripe_sweep_secs: u64,
    /// How often the workers list Payment Links at Stripe and switch off orphans.
    pub link_sweep_secs: u64,
    /// The largest share (0–1) of `stripe.rate_limit_per_sec` the sweeps may take.
    pub stripe_sweep_share: f64,
}

/// Webhooks paylink sends to the host application (docs/webhooks.md).
#[derive(Clone, Debug, Deserialize)]
pub struct OutboundConfig {
    /// Seconds between tries of a delivery; when spent, the delivery is `failed`.
    #[serde(deserialize_with = "comma_numbers")]
    pub retry_schedule_secs: Vec<u64>,
    /// How long an endpoint has to answer one try.
    pub timeout_secs: u64,
    /// How long the previous secret still signs after `rotate_secret`.
    pub secret_overlap_secs: u64,
    /// Let endpoints be on loopback, private, link-local and other non-public addresses: for
    /// the demo, the tests and a host application on the same private network. Off, such URLs
    /// are refused at registration and every connection (docs/security.md, "Outbound webhooks").
    pub allow_private_networks: bool,
}

/// Mail to payers (docs/email.md). No `smtp_url`: sending is off.
#[derive(Clone, Debug, Deserialize)]
pub struct EmailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS unless the host is loopback) or `smtps://…`: a
    /// secret, for the password in it.
    #[serde(default, deserialize_with = "secret::optional")]
    pub smtp_url: Option<SecretString>,
    /// The sender, `"Riverside League <billing@example.org>"`; required with `smtp_url`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Mails per second, every worker process together.
    pub rate_per_sec: u32,
    /// A folder whose files override the built-in mail templates.
    #[serde(default)]
    pub templates_dir: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `paylink=debug,info`.
    pub level: String,
}

/// The environments `PAYLINK_ENV` may name (`config/{env}.toml` is read when present).
/// `production` turns on the production checks, so a near miss (`prod`) must not pass silently
/// as something else.
pub const ENVIRONMENTS: [&str; 4] = ["development", "test", "staging", "production"];

/// `PAYLINK_ENV` (unset: `development`), in lower case; any other value is refused, naming the
/// valid ones.
fn environment() -> Result<String, ConfigError> {
    match std::env::var("PAYLINK_ENV") {
        Err(std::env::VarError::NotPresent) => Ok("development".into()),
        Ok(value) => parse_environment(&value),
        Err(std::env::VarError::NotUnicode(_)) => parse_environment("(not UTF-8)"),
    }
}

fn parse_environment(value: &str) -> Result<String, ConfigError> {
    let env = value.trim().to_lowercase();
    if ENVIRONMENTS.contains(&env.as_str()) {
        return Ok(env);
    }
    Err(ConfigError(format!(
        "PAYLINK_ENV={value:?} is not an environment paylink knows; write one of {} \
         (production turns on the production checks)",
        ENVIRONMENTS.join(", ")
    )))
}

/// The variable naming an extra settings file.
pub const CONFIG_FILE_VAR: &str = "PAYLINK_CONFIG";

/// Settings that must never come from a file in the repository.
const SECRET_KEYS: [&str; 4] = [
    "stripe.secret_key",
    "stripe.webhook_secrets",
    "admin.token",
    "email.smtp_url",
];

impl Settings {
    /// The layered sources for `PAYLINK_ENV` (default `development`), before extraction.
    pub fn figment() -> Figment {
        Self::figment_for(&environment().unwrap_or_else(|_| "development".into()))
    }

    /// The built-in defaults (the shipped `config/default.toml`, so the binary runs from any
    /// directory), then `config/default.toml` and `config/{env}.toml` when present, then the
    /// environment.
    pub fn figment_for(env: &str) -> Figment {
        let variables = || Env::prefixed("PAYLINK__").split("__");
        let mut figment = Self::built_in()
            .merge(Self::files(env))
            .merge(variables().ignore(&SECRET_KEYS));
        // The secrets as written: figment's own parsing would turn `0123` into 123.
        for (key, value) in variables().only(&SECRET_KEYS).iter() {
            figment = figment.merge(Serialized::default(key.as_str(), value.trim().to_owned()));
        }
        figment
    }

    /// Only the defaults compiled into the binary: no files, no environment (the demo).
    pub fn built_in() -> Figment {
        defaults::built_in()
    }

    /// `config/default.toml`, `config/{env}.toml`, then the file `PAYLINK_CONFIG` names (a
    /// deployment's own settings kept outside the repository; it must exist when named).
    fn files(env: &str) -> Figment {
        let files = Figment::new()
            .merge(Toml::file("config/default.toml"))
            .merge(Toml::file(format!("config/{env}.toml")));
        match std::env::var_os(CONFIG_FILE_VAR) {
            Some(path) => files.merge(Toml::file_exact(path)),
            None => files,
        }
    }

    /// Loads settings from files and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let env = environment()?;
        if let Some(path) = std::env::var_os(CONFIG_FILE_VAR)
            && !std::path::Path::new(&path).is_file()
        {
            return Err(ConfigError(format!(
                "{CONFIG_FILE_VAR} names {}, which is not a readable file",
                std::path::Path::new(&path).display()
            )));
        }
        variables::check(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()))?;
        let files = Self::files(&env);
        variables::check_files(&files)?;
        for key in SECRET_KEYS {
            if files.find_value(key).is_ok() {
                return Err(ConfigError(format!(
                    "{key} is set in a config file; secrets are read only from the environment (PAYLINK__{})",
                    key.replace('.', "__").to_uppercase()
                )));
            }
        }
        let mut settings = Self::from_figment(Self::figment_for(&env))?;
        settings.environment = env;
        Ok(settings)
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            ConfigError(format!(
                "{key}: {e} (set PAYLINK__{})",
                key.replace('.', "__").to_uppercase()
            ))
        })?;
        // An empty URL is no URL: sending off, as docker-compose.yml writes it when the
        // variable is unset.
        settings.email.smtp_url = settings
            .email
            .smtp_url
            .take()
            .filter(|url| !secrecy::ExposeSecret::expose_secret(url).trim().is_empty());
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use paylink_core::store::product::CATEGORIES;
        for category in self
            .policy
            .save_card_categories
            .iter()
            .chain(&self.policy.deactivate_on_paid_categories)
        {
            if !CATEGORIES.contains(&category.as_str()) {
                return Err(ConfigError(format!(
                    "policy: unknown category {category:?}; known categories are {}",
                    CATEGORIES.join(", ")
                )));
            }
        }
        if !(self.public_base_url.starts_with("http://")
            || self.public_base_url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "public_base_url must be an http(s) URL, got {:?}",
                self.public_base_url
            )));
        }
        if let Some(header) = self.client_ip_header()
            && axum::http::HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            return Err(ConfigError(format!(
                "http.client_ip_header must be a header name such as X-Forwarded-For, got \
                 {header:?} (set PAYLINK__HTTP__CLIENT_IP_HEADER)"
            )));
        }
        let share = self.reconcile.stripe_sweep_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(ConfigError(format!(
                "reconcile.stripe_sweep_share must be above 0 and at most 1, got {share} \
                 (set PAYLINK__RECONCILE__STRIPE_SWEEP_SHARE)"
            )));
        }
        if self.outbound.timeout_secs == 0 {
            return Err(ConfigError(
                "outbound.timeout_secs must be at least 1 (set PAYLINK__OUTBOUND__TIMEOUT_SECS)"
                    .into(),
            ));
        }
        if self.workers.max_attempts == 0 || self.workers.concurrency == 0 {
            return Err(ConfigError(
                "workers.max_attempts and workers.concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The Stripe settings, with the key required unless the base URL is not Stripe's own.
    pub fn stripe_settings(&self) -> Result<StripeSettings, ConfigError> {
        let secret_key = match (&self.stripe.secret_key, self.uses_real_stripe()) {
            (Some(key), _) => key.clone(),
            (None, false) => SecretString::from(STAND_IN_KEY),
            (None, true) => {
                return Err(ConfigError(
                    "PAYLINK__STRIPE__SECRET_KEY is required when stripe.api_base is Stripe's API"
                        .into(),
                ));
            }
        };
        Ok(StripeSettings {
            secret_key,
            api_base: self.stripe.api_base.clone(),
            request_timeout: Duration::from_millis(self.stripe.request_timeout_ms),
        })
    }

    /// Whether the Stripe key is a live one (`sk_live_…` or `rk_live_…`): real money.
    pub fn live_stripe_key(&self) -> bool {
        self.stripe.secret_key.as_ref().is_some_and(|k| {
            paylink_core::stripe::key_is_live(secrecy::ExposeSecret::expose_secret(k))
        })
    }

    /// Whether `stripe.api_base` is Stripe's own API (not the stand-in): a key is required.
    pub(crate) fn uses_real_stripe(&self) -> bool {
        self.stripe.api_base.contains("api.stripe.com")
    }

    /// The admin token, required by the intake.
    pub fn admin_token(&self) -> Result<SecretString, ConfigError> {
        self.admin
            .token
            .clone()
            .filter(|t| !secrecy::ExposeSecret::expose_secret(t).is_empty())
            .ok_or_else(|| {
                ConfigError("PAYLINK__ADMIN__TOKEN is required for serve and run".into())
            })
    }

    /// Redis's URL, or `None` for the embedded queue (which lives in a SQLite database).
    pub fn queue_url(&self) -> Result<Option<&str>, ConfigError> {
        match self.queue.url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) if !url.starts_with("redis://") && !url.starts_with("rediss://") => {
                Err(ConfigError(format!(
                    "PAYLINK__QUEUE__URL must be a redis:// or rediss:// URL, not {}",
                    paylink_core::store::redact_url(url)
                )))
            }
            Some(url) => Ok(Some(url)),
            None if !self.database.url.starts_with("sqlite:") => Err(ConfigError(
                "PAYLINK__QUEUE__URL (redis://…) is required with a PostgreSQL database; \
                 the embedded queue needs PAYLINK__DATABASE__URL=sqlite://…"
                    .into(),
            )),
            None => Ok(None),
        }
    }

    pub fn policy(&self) -> Policy {
        Policy {
            save_card_categories: self.policy.save_card_categories.clone(),
            deactivate_on_paid_categories: self.policy.deactivate_on_paid_categories.clone(),
        }
    }

    /// `http.client_ip_header`, or `None` when unset or blank. docker-compose.yml passes
    /// `${PAYLINK_CLIENT_IP_HEADER:-}`, so a deployment without a proxy sets it to "", which
    /// must mean the connection's peer (a header named "" would match nothing, silently).
    pub fn client_ip_header(&self) -> Option<&str> {
        non_blank(self.http.client_ip_header.as_deref())
    }

    /// `http.metrics_addr`, or `None` (`/metrics` on `http.addr`, behind the admin token) when
    /// unset or blank.
    pub fn metrics_addr(&self) -> Option<&str> {
        non_blank(self.http.metrics_addr.as_deref())
    }

    /// Whether `http.metrics_addr` names `http.addr` itself: the operator asks for `/metrics`
    /// on the public port with no token (a Prometheus that cannot send one), on purpose.
    pub fn metrics_on_public_addr(&self) -> bool {
        self.metrics_addr() == Some(self.http.addr.trim())
    }

    /// The limits every listening connection gets.
    pub fn connection_limits(&self) -> crate::http_server::ConnectionLimits {
        crate::http_server::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.http.header_read_timeout_secs.max(1)),
            body_read_timeout: Duration::from_secs(self.http.body_read_timeout_secs.max(1)),
            body_total_timeout: Duration::from_secs(self.http.body_total_timeout_secs.max(1)),
            max_connections: self.http.max_connections.max(1),
            request_timeout: Duration::from_secs(self.http.request_timeout_secs.max(1)),
            max_connections_per_client: self.connections_per_client(),
        }
    }

    /// The per-client connection cap in force: `http.max_connections_per_client` (at most
    /// `max_connections`), or `None` when it is 0 or paylink is behind a proxy
    /// (`http.client_ip_header` set): there every connection's peer is the proxy, and capping
    /// it would cap everyone. The proxy must limit its clients' connections then.
    pub fn connections_per_client(&self) -> Option<usize> {
        let cap = self.http.max_connections_per_client;
        (cap > 0 && self.client_ip_header().is_none())
            .then(|| cap.min(self.http.max_connections.max(1)))
    }

    /// How long dashboard sessions live.
    pub fn session_limits(&self) -> paylink_core::store::admin_session::Limits {
        paylink_core::store::admin_session::Limits {
            idle: Duration::from_secs(self.admin.session_idle_secs.max(60)),
            max_age: Duration::from_secs(self.admin.session_max_age_secs.max(60)),
        }
    }

    pub fn retry(&self) -> RetrySettings {
        RetrySettings {
            max_attempts: self.workers.max_attempts,
            base_backoff: Duration::from_millis(self.workers.base_backoff_ms),
            max_backoff: Duration::from_millis(self.workers.max_backoff_ms),
        }
    }

    pub fn worker_settings(&self) -> WorkerSettings {
        WorkerSettings {
            concurrency: self.workers.concurrency,
            feeder: paylink_core::feeder::FeederSettings {
                window: self.workers.window,
                interval: Duration::from_millis(self.workers.feed_interval_ms),
                reconcile: paylink_core::reconcile::ReconcileSettings {
                    interval: Duration::from_secs(self.reconcile.interval_secs.max(1)),
                    stale_after: self.stale_after(),
                    closing_categories: self.policy.deactivate_on_paid_categories.clone(),
                },
            },
            sync: paylink_core::stripe_sync::SyncSettings {
                event_sweep: Duration::from_secs(self.reconcile.stripe_sweep_secs.max(1)),
                link_sweep: Duration::from_secs(self.reconcile.link_sweep_secs.max(1)),
            },
            outbound: self.outbound_settings(),
        }
    }

    /// What the workers send mail with; `None` when `email.smtp_url` is unset (sending is off).
    pub fn mail_settings(&self) -> Result<Option<paylink_core::mailer::MailSettings>, ConfigError> {
        let Some(url) = self.email.smtp_url.clone() else {
            return Ok(None);
        };
        let from = non_blank(self.email.from.as_deref()).ok_or_else(|| {
            ConfigError(
                "PAYLINK__EMAIL__FROM is required with PAYLINK__EMAIL__SMTP_URL: the sender, \
                 such as \"Riverside League <billing@example.org>\""
                    .into(),
            )
        })?;
        Ok(Some(paylink_core::mailer::MailSettings {
            smtp: paylink_core::mailer::SmtpSettings { url },
            from: from.to_owned(),
            reply_to: non_blank(self.email.reply_to.as_deref()).map(str::to_owned),
            templates_dir: self.email.templates_dir.clone(),
        }))
    }

    pub fn outbound_settings(&self) -> paylink_core::outbound::OutboundSettings {
        paylink_core::outbound::OutboundSettings {
            retry_schedule: self
                .outbound
                .retry_schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            timeout: Duration::from_secs(self.outbound.timeout_secs.max(1)),
            allow_private_networks: self.outbound.allow_private_networks,
            ..paylink_core::outbound::OutboundSettings::default()
        }
    }

    /// Requests per second the sweeps of Stripe may take: `reconcile.stripe_sweep_share` of the
    /// rate limit, at least one.
    pub fn sweep_rate(&self) -> u32 {
        let share = self.reconcile.stripe_sweep_share.clamp(0.0, 1.0);
        ((f64::from(self.stripe.rate_limit_per_sec) * share).floor() as u32).max(1)
    }
}

impl Settings {
    /// `reconcile.stale_after_secs`, but never less than twice the time a full window of jobs
    /// takes at the Stripe rate: a job merely waiting its turn is not lost.
    pub fn stale_after(&self) -> Duration {
        let window_secs =
            2 * self.workers.window / u64::from(self.stripe.rate_limit_per_sec.max(1));
        Duration::from_secs(self.reconcile.stale_after_secs.max(window_secs))
    }
}

/// An optional setting with surrounding blanks removed; blank is unset.
fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Accepts `"a,b"` (from an environment variable) or `["a", "b"]` (from TOML).
fn comma_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Either::Many(v) => v,
    })
}

/// Accepts `"5,300"` or `5` (from an environment variable) or `[5, 300]` (from TOML); an
/// empty string is an empty list (one try, no retries).
fn comma_numbers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    struct Seconds;
    impl<'de> serde::de::Visitor<'de> for Seconds {
        type Value = Vec<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("whole numbers of seconds separated by commas, such as 5,300,1800")
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Vec<u64>, E> {
            Ok(vec![n])
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Vec<u64>, E> {
            u64::try_from(n)
                .map(|n| vec![n])
                .map_err(|_| E::custom(format!("{n} is not a whole number of seconds")))
        }

        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Vec<u64>, E> {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|n| {
                    n.parse::<u64>()
                        .map_err(|_| E::custom(format!("{n:?} is not a whole number of seconds")))
                })
                .collect()
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
            let mut all = Vec::new();
            while let Some(n) = seq.next_element::<u64>()? {
                all.push(n);
            }
            Ok(all)
        }
    }
    deserializer.deserialize_any(Seconds)
}

#[cfg(test)]
mod tests {
    use super::{Settings, parse_environment};

    #[test]
    fn paylink_env_is_one_of_the_known_environments_and_a_near_miss_is_refused() {
        assert_eq!(
            parse_environment("production").ok().as_deref(),
            Some("production")
        );
        assert_eq!(
            parse_environment(" Staging ").ok().as_deref(),
            Some("staging")
        );
        assert_eq!(parse_environment("test").ok().as_deref(), Some("test"));
        for near_miss in ["prod", "dev", "", "live"] {
            let error = parse_environment(near_miss)
                .expect_err(near_miss)
                .to_string();
            assert!(
                error.contains(&format!("PAYLINK_ENV={near_miss:?}"))
                    && error.contains("development, test, staging, production"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_outbound_retry_schedule_is_svix_s_and_reads_from_a_comma_list() {
        let shipped = Settings::from_figment(Settings::built_in()).expect("the shipped settings");
        assert_eq!(
            shipped.outbound.retry_schedule_secs,
            paylink_core::outbound::DEFAULT_RETRY_SCHEDULE_SECS
        );
        assert_eq!(shipped.outbound_settings().timeout.as_secs(), 15);
        assert!(
            !shipped.outbound_settings().allow_private_networks,
            "public addresses only unless set"
        );
        assert!(
            crate::config::variables::known_keys()
                .contains(&"outbound.allow_private_networks".to_owned())
        );
        let listed = Settings::built_in().merge(("outbound.retry_schedule_secs", "1, 2,3"));
        let settings = Settings::from_figment(listed).expect("valid");
        assert_eq!(settings.outbound.retry_schedule_secs, vec![1, 2, 3]);
        let one = Settings::built_in().merge(("outbound.retry_schedule_secs", 7));
        let settings = Settings::from_figment(one).expect("valid");
        assert_eq!(settings.outbound.retry_schedule_secs, vec![7]);
        let none = Settings::built_in().merge(("outbound.retry_schedule_secs", ""));
        let settings = Settings::from_figment(none).expect("valid");
        assert!(settings.outbound.retry_schedule_secs.is_empty());
        let wrong = Settings::built_in().merge(("outbound.retry_schedule_secs", "5,soon"));
        let error = Settings::from_figment(wrong)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("soon"), "{error}");
    }

    #[test]
    fn the_sweeps_take_their_share_of_the_rate_limit_and_at_least_one_request() {
        let shipped = Settings::from_figment(Settings::built_in()).expect("the shipped settings");
        assert_eq!(shipped.reconcile.stripe_sweep_secs, 300);
        assert_eq!(shipped.reconcile.link_sweep_secs, 3600);
        assert_eq!(shipped.sweep_rate(), 4, "20 % of 20/s");
        let slow = Settings::built_in().merge(("stripe.rate_limit_per_sec", 3));
        assert_eq!(Settings::from_figment(slow).expect("valid").sweep_rate(), 1);
    }

    #[test]
    fn an_empty_smtp_url_is_sending_off() {
        let figment = Settings::built_in().merge(("email.smtp_url", " "));
        let settings = Settings::from_figment(figment).expect("valid");
        assert!(settings.email.smtp_url.is_none());
        assert!(settings.mail_settings().expect("no error").is_none());
    }

    #[test]
    fn an_empty_stripe_key_is_unset_so_the_stand_in_gets_its_own() {
        let figment = Settings::built_in()
            .merge(("stripe.api_base", "http://fake-stripe:12111/"))
            .merge(("stripe.secret_key", ""));
        let settings = Settings::from_figment(figment).expect("valid");
        let key = settings
            .stripe_settings()
            .expect("no key needed")
            .secret_key;
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&key),
            super::STAND_IN_KEY
        );
        let real = Settings::built_in().merge(("stripe.secret_key", ""));
        let error = Settings::from_figment(real)
            .expect("valid")
            .stripe_settings();
        assert!(error.is_err(), "Stripe's own API needs a key");
    }

    /// An empty `PAYLINK__HTTP__CLIENT_IP_HEADER` (docker-compose.yml's default) or
    /// `PAYLINK__HTTP__METRICS_ADDR` is unset, as figment reads an empty variable.
    #[test]
    fn an_empty_client_ip_header_or_metrics_addr_is_unset() {
        use figment::providers::Serialized;
        let empty = |key: &str| {
            // What figment's `Env` provider makes of `KEY=`: the text parsed as a `Value`.
            let value: figment::value::Value = "".parse().expect("infallible");
            Settings::built_in().merge(Serialized::default(key, value))
        };
        let settings = Settings::from_figment(empty("http.client_ip_header")).expect("valid");
        assert_eq!(settings.client_ip_header(), None);
        let settings = Settings::from_figment(empty("http.metrics_addr")).expect("valid");
        assert_eq!(settings.metrics_addr(), None);
        let blank = Settings::built_in().merge(("http.client_ip_header", "  "));
        let settings = Settings::from_figment(blank).expect("valid");
        assert_eq!(settings.client_ip_header(), None);
        let set = Settings::built_in()
            .merge(("http.client_ip_header", "X-Forwarded-For"))
            .merge(("http.metrics_addr", "0.0.0.0:9101"));
        let settings = Settings::from_figment(set).expect("valid");
        assert_eq!(settings.client_ip_header(), Some("X-Forwarded-For"));
        assert_eq!(settings.metrics_addr(), Some("0.0.0.0:9101"));
    }

    /// The per-client connection cap: 128 by default, never above `max_connections`, off at 0
    /// and behind a proxy (where every connection's peer is the proxy).
    #[test]
    fn the_per_client_connection_cap_is_off_behind_a_proxy_and_at_zero() {
        let shipped = Settings::from_figment(Settings::built_in()).expect("valid");
        assert_eq!(
            shipped.connection_limits().max_connections_per_client,
            Some(128)
        );
        let small = Settings::built_in().merge(("http.max_connections", 50));
        let small = Settings::from_figment(small).expect("valid");
        assert_eq!(small.connections_per_client(), Some(50));
        let off = Settings::built_in().merge(("http.max_connections_per_client", 0));
        assert_eq!(
            Settings::from_figment(off)
                .expect("valid")
                .connections_per_client(),
            None
        );
        let proxied = Settings::built_in().merge(("http.client_ip_header", "X-Forwarded-For"));
        assert_eq!(
            Settings::from_figment(proxied)
                .expect("valid")
                .connections_per_client(),
            None
        );
    }

    #[test]
    fn a_client_ip_header_that_is_no_header_name_is_refused() {
        let figment = Settings::built_in().merge(("http.client_ip_header", "X Forwarded For"));
        let error = Settings::from_figment(figment)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("PAYLINK__HTTP__CLIENT_IP_HEADER"), "{error}");
    }

    /// `/metrics` on the public port without the token only when `metrics_addr` names the
    /// public address itself.
    #[test]
    fn metrics_are_open_on_the_public_port_only_when_metrics_addr_names_it() {
        let shipped = Settings::from_figment(Settings::built_in()).expect("valid");
        assert!(!shipped.metrics_on_public_addr());
        let own = Settings::built_in().merge(("http.metrics_addr", "127.0.0.1:9101"));
        assert!(
            !Settings::from_figment(own)
                .expect("valid")
                .metrics_on_public_addr()
        );
        let public = Settings::built_in().merge(("http.metrics_addr", " 127.0.0.1:8080 "));
        assert!(
            Settings::from_figment(public)
                .expect("valid")
                .metrics_on_public_addr()
        );
    }

    #[test]
    fn a_sweep_share_outside_0_to_1_names_the_setting() {
        for share in [0.0, 1.5, -0.2] {
            let figment = Settings::built_in().merge(("reconcile.stripe_sweep_share", share));
            let error = Settings::from_figment(figment)
                .expect_err("refused")
                .to_string();
            assert!(
                error.contains("PAYLINK__RECONCILE__STRIPE_SWEEP_SHARE"),
                "{error}"
            );
        }
    }
}
