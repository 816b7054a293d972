//! Every setting with one line of meaning: what `paylink settings` prints and what
//! docs/settings.md holds. The keys and defaults come from the loader's own sources (the
//! compiled-in `config/default.toml` and [`super::variables::known_keys`]); only the meanings are
//! written here, and the tests fail when a setting has none, a meaning names no setting, or
//! docs/settings.md is not what the command prints.

use figment::value::Value;

use super::variables::{self, defaults};

/// One setting's documentation.
pub struct Entry {
    /// The dotted key (`stripe.rate_limit_per_sec`).
    pub key: &'static str,
    /// What it is, for a setting unset by default (whose type no default shows).
    pub unset_type: Option<&'static str>,
    /// What happens when a setting without a default is left unset.
    pub when_unset: Option<&'static str>,
    pub meaning: &'static str,
}

const fn set(key: &'static str, meaning: &'static str) -> Entry {
    Entry {
        key,
        unset_type: None,
        when_unset: None,
        meaning,
    }
}

const fn unset(
    key: &'static str,
    kind: &'static str,
    when_unset: &'static str,
    meaning: &'static str,
) -> Entry {
    Entry {
        key,
        unset_type: Some(kind),
        when_unset: Some(when_unset),
        meaning,
    }
}

/// Every setting, in the order docs/settings.md lists them.
pub const ENTRIES: &[Entry] = &[
    set(
        "public_base_url",
        "base of pay URLs and of the thank-you page; in production it must be the https address payers see",
    ),
    set("http.addr", "intake listen address"),
    unset(
        "http.metrics_addr",
        "address",
        "on `http.addr`, with the admin token as a bearer token only (401 without)",
        "serve the intake's `/metrics` on this address, without a token, instead of on `http.addr` (keep it off the internet); set to `http.addr` itself to serve it there without a token, on purpose",
    ),
    set(
        "http.header_read_timeout_secs",
        "a connection must finish its request headers within this; also how long an idle keep-alive connection is kept",
    ),
    set(
        "http.body_read_timeout_secs",
        "the longest gap between two chunks of a request body; a body that stalls is cut off",
    ),
    set(
        "http.body_total_timeout_secs",
        "the longest a whole request body may take to arrive, however steadily it trickles in; past it the body is cut off as a stalled one is (a 16 MiB `/v1/blasts` body needs about 2.2 Mbit/s to make it: raise this for big blasts over a slow link)",
    ),
    set(
        "http.max_connections",
        "connections served at once; more wait in the kernel's backlog until one closes",
    ),
    set(
        "http.max_connections_per_client",
        "connections one client address (IPv6: one /64) may hold at once; one more is answered 429 and closed, so one client cannot take every slot (at most `http.max_connections`; `0`: no such cap). Off when `http.client_ip_header` is set: behind a proxy every connection comes from the proxy, which must limit its clients",
    ),
    set(
        "http.request_timeout_secs",
        "the longest any request may take, its body included; past it paylink answers 503 with `Retry-After` (the API's JSON error on `/v1/*` and `/webhooks/*`, a page elsewhere) and drops the work, whose transaction rolls back",
    ),
    unset(
        "http.client_ip_header",
        "header name",
        "the connection's peer",
        "behind a reverse proxy: the header it writes the client's address into (e.g. `X-Forwarded-For`, whose last entry is used; `ip:port`, `[v6]:port` and `Forwarded`'s `for=` are read too; a request without a readable address counts as the connection's peer, logged once); set it only when every request comes through that proxy. Unset while requests carry `X-Forwarded-For`, `Forwarded` or `X-Real-IP`, or while the public URL is https, paylink warns once (and `paylink doctor` warns)",
    ),
    set("database.url", "`postgres://…` or `sqlite://…`"),
    set("database.max_connections", "pool size"),
    set(
        "database.migrate_on_start",
        "apply migrations in serve/work/run, under a schema lock (any number of processes may start at once)",
    ),
    unset(
        "queue.url",
        "URL",
        "the embedded queue",
        "`redis://…` or `rediss://…`; unset means the embedded queue, which needs a `sqlite://` database (with PostgreSQL and no queue URL paylink exits 2 naming this setting)",
    ),
    set(
        "queue.namespace",
        "prefix of every queue name (and Redis key), so deployments can share a Redis",
    ),
    unset(
        "stripe.secret_key",
        "secret",
        "required when `stripe.api_base` is Stripe's; the stand-in takes any `sk_test_…` and one is used by default",
        "Stripe secret key (from the environment only)",
    ),
    set("stripe.api_base", "Stripe API base URL"),
    unset(
        "stripe.webhook_secrets",
        "secret list",
        "`/webhooks/stripe` answers 503 until set, and `serve` and `run` log a warning at start",
        "comma-separated `whsec_…`; several during a secret roll (from the environment only)",
    ),
    set(
        "stripe.webhook_tolerance_secs",
        "how far a delivery's signed timestamp may be from now, either way",
    ),
    set(
        "stripe.rate_limit_per_sec",
        "Stripe requests/s, all worker processes (and pay-URL clicks) together, shared through Redis (in-process with the embedded queue)",
    ),
    set(
        "stripe.payment_links_limit_per_sec",
        "Stripe's own limit on creating Payment Links, per second (25 in test and live mode unless Stripe granted the account more); `paylink doctor` warns when `stripe.rate_limit_per_sec` is above it",
    ),
    set(
        "stripe.request_timeout_ms",
        "one Stripe request's time limit; past it the request is retried with the same idempotency key",
    ),
    unset(
        "admin.token",
        "secret",
        "required for serve/run",
        "bearer token for `/v1/*`, `/metrics` on the public port and the dashboard's login (from the environment only; in production at least 32 characters); changing it ends every dashboard session opened under the old one",
    ),
    set(
        "admin.session_idle_secs",
        "a dashboard session ends after this long without a request",
    ),
    set(
        "admin.session_max_age_secs",
        "a dashboard session ends this long after its login",
    ),
    set(
        "admin.max_failures_per_minute",
        "failed logins or bearer tokens per client address (IPv6: per /64 prefix) in a minute before its further wrong ones get 429 for the rest of the minute (the right token always passes; `0`: no limit)",
    ),
    set(
        "policy.save_card_categories",
        "categories minted with `setup_future_usage=off_session` and `customer_creation=always` (so Stripe saves the card to a Customer, whose id the order keeps)",
    ),
    set(
        "policy.deactivate_on_paid_categories",
        "categories whose link takes one payment (`restrictions.completed_sessions.limit=1`, with an `inactive_message`) and is switched off once paid",
    ),
    set(
        "workers.concurrency",
        "jobs one worker process runs at once",
    ),
    set(
        "workers.max_attempts",
        "Stripe requests one mint job makes before the order is marked `failed`",
    ),
    set(
        "workers.base_backoff_ms",
        "exponential backoff with jitter between attempts: the first wait",
    ),
    set(
        "workers.max_backoff_ms",
        "exponential backoff with jitter between attempts: the longest wait",
    ),
    set(
        "workers.click_mint_attempts",
        "Stripe requests a payer's click may spend minting a link not ready yet",
    ),
    set(
        "workers.window",
        "most mint jobs due in the queue at once; the rest of a blast waits in the database",
    ),
    set(
        "workers.feed_interval_ms",
        "how often each worker process tops the queue up from the database",
    ),
    unset(
        "workers.metrics_addr",
        "address",
        "none",
        "where a `paylink work` process serves its own `/metrics` (its jobs and Stripe requests, plus the deployment's gauges)",
    ),
    set(
        "workers.shutdown_grace_secs",
        "after SIGTERM or Ctrl-C, how long in-flight jobs may run before the process exits anyway (they return to the queue)",
    ),
    set(
        "reconcile.interval_secs",
        "how often each worker process runs the reconcile sweep (one process at a time wins; one runs at start-up too)",
    ),
    set(
        "reconcile.stale_after_secs",
        "the last-resort net: work enqueued (or an order paid) this long ago and not done counts as lost and is enqueued again; never less than 2 × window ÷ rate (100 s at the defaults), so a job merely waiting its turn is not taken twice",
    ),
    set(
        "reconcile.stripe_sweep_secs",
        "how often the workers read Stripe's events (`GET /v1/events`) for payments no webhook brought (one process at a time, fleet-wide)",
    ),
    set(
        "reconcile.link_sweep_secs",
        "how often the workers list the active Payment Links at Stripe and switch off orphans; also 10 s after any create whose outcome was unknown (a 5xx or a timeout)",
    ),
    set(
        "reconcile.stripe_sweep_share",
        "the most of `stripe.rate_limit_per_sec` the sweeps' Stripe reads (and the payers' return pages) may take (above 0, at most 1; at least 1 request/s), so they never slow a blast by more",
    ),
    set(
        "outbound.retry_schedule_secs",
        "the waits between tries of a webhook delivery to your application (each ±10%); when they are spent the delivery is `failed`; `\"\"` means one try only",
    ),
    set(
        "outbound.timeout_secs",
        "how long your endpoint has to answer one try (connecting included)",
    ),
    set(
        "outbound.secret_overlap_secs",
        "after `rotate_secret`, how long the previous secret still signs beside the new one",
    ),
    set(
        "outbound.allow_private_networks",
        "let webhook endpoints be on loopback, private, link-local, unique-local and other non-public addresses (the demo and the tests set it; set it for a host application on your own network). Off, such URLs are refused at registration and on every connection (docs/security.md, \"Outbound webhooks\")",
    ),
    unset(
        "email.smtp_url",
        "secret",
        "no mail is sent, and asking for it (`send_email`) is a 422 naming this setting",
        "the mail server: `smtp://user:pass@host:587` (STARTTLS, required unless the host is loopback or the URL ends `?tls=off`, which production refuses) or `smtps://user:pass@host:465` (TLS); from the environment only (docs/email.md)",
    ),
    unset(
        "email.from",
        "string",
        "required with `email.smtp_url`",
        "the sender, `\"Riverside League <billing@example.org>\"`; its name is the mails' organisation",
    ),
    unset(
        "email.reply_to",
        "string",
        "replies go to `email.from`",
        "where payers' replies go",
    ),
    set(
        "email.rate_per_sec",
        "mails per second, every worker process together (shared through Redis; in-process with the embedded queue); keep it under your mail provider's limit",
    ),
    unset(
        "email.templates_dir",
        "path",
        "the built-in templates",
        "a folder whose `pay_link.subject.txt`, `pay_link.txt` and `pay_link.html` override the built-in mail templates; a template that does not render stops start-up, naming its file and line (docs/operations.md, \"Mail templates\")",
    ),
    set("log.format", "`text` or `json`"),
    set("log.level", "a tracing filter (`RUST_LOG` wins)"),
];

/// The Markdown table `paylink settings` prints: every setting's variable, key, type, default
/// and meaning.
pub fn render() -> String {
    let defaults = defaults();
    let mut out = String::from(
        "| variable | setting | type | default | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for entry in ENTRIES {
        let (kind, default) = match defaults.iter().find(|(k, _)| k == entry.key) {
            Some((_, value)) => (type_of(value), format!("`{}`", shown(value))),
            None => (
                entry.unset_type.unwrap_or("text").to_owned(),
                format!("unset: {}", entry.when_unset.unwrap_or("none")),
            ),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {kind} | {default} | {} |\n",
            variables::variable(entry.key),
            entry.key,
            entry.meaning.replace('|', "\\|"),
        ));
    }
    out
}

fn type_of(value: &Value) -> String {
    match value {
        Value::Bool(..) => "true/false".into(),
        Value::Num(_, n) if n.to_f64().is_some() => "number".into(),
        Value::Num(..) => "integer".into(),
        Value::Array(..) => "list".into(),
        _ => "text".into(),
    }
}

/// A default as one would write it in the variable: lists comma-separated.
fn shown(value: &Value) -> String {
    match value {
        Value::String(_, s) => s.clone(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => n
            .to_i128()
            .map(|i| i.to_string())
            .or_else(|| n.to_f64().map(|f| f.to_string()))
            .unwrap_or_default(),
        Value::Array(_, items) => items.iter().map(shown).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_meaning_and_every_meaning_a_setting() {
        let known = variables::known_keys();
        let documented: Vec<&str> = ENTRIES.iter().map(|e| e.key).collect();
        let undocumented: Vec<&String> = known
            .iter()
            .filter(|k| !documented.contains(&k.as_str()))
            .collect();
        assert!(
            undocumented.is_empty(),
            "settings without a line in src/config/catalog.rs: {undocumented:?}"
        );
        let unknown: Vec<&&str> = documented
            .iter()
            .filter(|k| !known.iter().any(|known| known == *k))
            .collect();
        assert!(
            unknown.is_empty(),
            "documented but not settings: {unknown:?}"
        );
        let defaults = defaults();
        for entry in ENTRIES {
            let has_default = defaults.iter().any(|(k, _)| k == entry.key);
            assert_eq!(
                has_default,
                entry.unset_type.is_none(),
                "{}: `unset(…)` exactly when config/default.toml leaves it unset",
                entry.key
            );
        }
    }

    #[test]
    fn docs_settings_md_is_what_paylink_settings_prints() {
        let docs = include_str!("../../docs/settings.md");
        let rendered = render();
        assert!(
            docs.contains(&rendered),
            "docs/settings.md is out of date: paste the output of `paylink settings` over its \
             table.\n\nThe command prints:\n{rendered}"
        );
    }

    #[test]
    fn a_default_is_shown_as_it_would_be_written_in_its_variable() {
        let table = render();
        assert!(table.contains(
            "| `PAYLINK__OUTBOUND__RETRY_SCHEDULE_SECS` | `outbound.retry_schedule_secs` | list | `5,300,1800,7200,18000,36000,36000` |"
        ), "{table}");
        assert!(table.contains(
            "| `PAYLINK__RECONCILE__STRIPE_SWEEP_SHARE` | `reconcile.stripe_sweep_share` | number | `0.2` |"
        ), "{table}");
        assert!(
            table.contains(
                "| `PAYLINK__QUEUE__URL` | `queue.url` | URL | unset: the embedded queue |"
            ),
            "{table}"
        );
    }
}
