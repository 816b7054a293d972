//! The doctor's checks of the deployment's Stripe account: the key (its kind, that Stripe takes
//! it, live only in production), the webhook endpoint pointing at this intake (enabled, the
//! events paylink processes, a pinned API version, its secret), and the rate limit's headroom.

use paylink_core::store::redact_url;
use paylink_core::stripe::{
    CHECKOUT_EVENT_TYPES, PERMISSIONS, StripeApi, StripeFailure, api_version, mode_name,
};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::Report;
use crate::config::Settings;

/// Test or live, as the key's prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    /// Stripe's default rate limit for the mode (requests per second, all endpoints together).
    fn rate_limit(self) -> u32 {
        match self {
            Mode::Test => 25,
            Mode::Live => 100,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

/// The checks after the key's own, in order.
const STRIPE_CHECKS: [&str; 7] = [
    "rate limit",
    "stripe accepts key",
    "permissions",
    "webhook endpoint",
    "webhook events",
    "webhook version",
    "endpoint secret",
];

/// The share of Stripe's limit paylink may take and still leave room for the Dashboard, other
/// integrations and the sweeps' bursts.
const HEADROOM: f64 = 0.8;

/// Runs the checks; returns a client Stripe accepted (`None` when the key cannot be used).
pub async fn check(
    settings: &Settings,
    db: Option<&DatabaseConnection>,
    report: &mut Report,
) -> Option<StripeApi> {
    let stripe = with_the_key(settings, db, report).await;
    // What the database holds, whatever Stripe answers now.
    event_mode(db, report, settings.live_stripe_key()).await;
    stripe
}

/// The checks that need a key Stripe takes.
async fn with_the_key(
    settings: &Settings,
    db: Option<&DatabaseConnection>,
    report: &mut Report,
) -> Option<StripeApi> {
    let Some(mode) = key_kind(settings, report) else {
        for check in STRIPE_CHECKS {
            report.skip(check, "needs a key that can be used");
        }
        return None;
    };
    rate_limit(settings, mode, report);
    let stripe = match settings
        .stripe_settings()
        .map_err(anyhow::Error::from)
        .and_then(|s| StripeApi::new(&s))
    {
        Ok(stripe) => stripe,
        Err(e) => {
            // A missing key with Stripe's base was refused above; what is left is a client
            // that could not be built.
            report.fail(
                "stripe key",
                format!("{e}."),
                "check the stripe settings (docs/settings.md).",
            );
            return None;
        }
    };
    let endpoints = match stripe.list_webhook_endpoints().await {
        Ok(endpoints) => {
            report.ok(
                "stripe accepts key",
                format!(
                    "{} answered GET /v1/webhook_endpoints ({} mode)",
                    redact_url(&settings.stripe.api_base),
                    mode.name()
                ),
            );
            endpoints
        }
        Err(failure) => {
            refused(settings, &failure, report);
            for check in &STRIPE_CHECKS[2..] {
                report.skip(check, "needs a key Stripe accepts");
            }
            return None;
        }
    };
    permissions(&stripe, report).await;
    endpoint(settings, db, &endpoints, report).await;
    Some(stripe)
}

/// One harmless read of each resource paylink uses (docs/stripe.md, "A restricted key"): a
/// restricted key without one of them fails naming it and what needs it.
async fn permissions(stripe: &StripeApi, report: &mut Report) {
    let mut missing = Vec::new();
    for permission in &PERMISSIONS {
        match stripe.probe(permission).await {
            Ok(()) => {}
            Err(StripeFailure::KeyRefused { status: 403, .. }) => missing.push(permission),
            Err(other) => {
                report.fail(
                    "permissions",
                    format!("reading {} failed: {other}.", permission.resource),
                    "run the doctor again; if it persists, check the network to Stripe.",
                );
                return;
            }
        }
    }
    if missing.is_empty() {
        let read: Vec<&str> = PERMISSIONS.iter().map(|p| p.resource).collect();
        report.ok(
            "permissions",
            format!(
                "the key reads {} (creating Payment Links: --create-test-link)",
                read.join(", ")
            ),
        );
        return;
    }
    let named: Vec<String> = missing
        .iter()
        .map(|p| format!("{} ({}: {})", p.resource, p.access, p.why))
        .collect();
    report.fail(
        "permissions",
        format!("Stripe refused the key reading {}.", named.join("; ")),
        "give the restricted key those permissions in the Dashboard (Developers → API keys → the key → Edit), or use the secret key; docs/stripe.md lists every permission paylink needs.",
    );
}

/// The key's kind from its prefix (never printing the key), and whether it fits the environment.
fn key_kind(settings: &Settings, report: &mut Report) -> Option<Mode> {
    let Some(key) = &settings.stripe.secret_key else {
        if settings.uses_real_stripe() {
            report.fail(
                "stripe key",
                "PAYLINK__STRIPE__SECRET_KEY is not set.",
                "set it to the account's secret key (Dashboard → Developers → API keys): sk_test_… to try, sk_live_… in production.",
            );
            return None;
        }
        report.ok(
            "stripe key",
            format!(
                "none needed: stripe.api_base is {} (the stand-in), not Stripe",
                redact_url(&settings.stripe.api_base)
            ),
        );
        return Some(Mode::Test);
    };
    let key = secrecy::ExposeSecret::expose_secret(key);
    let (mode, kind) = match key.get(..8).unwrap_or_default() {
        "sk_test_" => (Mode::Test, "a test secret key"),
        "sk_live_" => (Mode::Live, "a live secret key"),
        "rk_test_" => (Mode::Test, "a restricted test key"),
        "rk_live_" => (Mode::Live, "a restricted live key"),
        _ => {
            let publishable = key.starts_with("pk_");
            report.fail(
                "stripe key",
                if publishable {
                    "PAYLINK__STRIPE__SECRET_KEY holds a publishable key (pk_…), which cannot create links."
                } else {
                    "PAYLINK__STRIPE__SECRET_KEY does not look like a Stripe secret key (sk_test_, sk_live_, rk_test_ or rk_live_)."
                },
                "copy the secret key from the Dashboard (Developers → API keys).",
            );
            return None;
        }
    };
    match (mode, settings.is_production()) {
        (Mode::Live, false) => {
            report.fail(
                "stripe key",
                format!(
                    "{kind} outside production (PAYLINK_ENV={}): real money, from settings meant for trying.",
                    if settings.environment.is_empty() { "unset" } else { &settings.environment }
                ),
                "use the sk_test_ key here; the live key belongs only where PAYLINK_ENV=production.",
            );
            return None;
        }
        (Mode::Test, true) => report.warn(
            "stripe key",
            format!("{kind} in production: payers can pay only with test cards"),
        ),
        _ => report.ok("stripe key", format!("{kind} ({} mode)", mode.name())),
    }
    Some(mode)
}

fn refused(settings: &Settings, failure: &StripeFailure, report: &mut Report) {
    let status = match failure {
        StripeFailure::Refused { status, .. }
        | StripeFailure::KeyRefused { status, .. }
        | StripeFailure::RetryLater { status, .. } => Some(*status),
        _ => None,
    };
    let (message, fix) = match status {
        Some(401) => (
            format!("Stripe refused the key: {failure}."),
            "copy the secret key again from the Dashboard (Developers → API keys); a rolled key stops working.".to_owned(),
        ),
        Some(403) => (
            format!("the key may not read webhook endpoints: {failure}."),
            "give the restricted key Webhook Endpoints: Read and the other permissions docs/stripe.md lists (Payment Links: Write, Checkout Sessions: Read, Events: Read), or use the secret key.".to_owned(),
        ),
        _ => (
            format!(
                "cannot ask Stripe at {}: {failure}.",
                redact_url(&settings.stripe.api_base)
            ),
            "check the network to Stripe and PAYLINK__STRIPE__API_BASE.".to_owned(),
        ),
    };
    report.fail("stripe accepts key", message, fix);
}

fn rate_limit(settings: &Settings, mode: Mode, report: &mut Report) {
    let ours = settings.stripe.rate_limit_per_sec;
    let limit = mode.rate_limit();
    let comfortable = (f64::from(limit) * HEADROOM).floor() as u32;
    let links = settings.stripe.payment_links_limit_per_sec;
    if ours > limit {
        report.fail(
            "rate limit",
            format!(
                "PAYLINK__STRIPE__RATE_LIMIT_PER_SEC={ours} is above Stripe's {limit}/s for {} keys: blasts will meet 429s.",
                mode.name()
            ),
            format!("set it to {comfortable} or less."),
        );
    } else if ours > links {
        // Every mint is a POST /v1/payment_links: a blast meets this limit before the mode's.
        report.warn(
            "rate limit",
            format!(
                "{ours}/s is above the {links}/s Stripe allows for creating Payment Links (per endpoint, {} mode): a blast will meet 429s. Set PAYLINK__STRIPE__RATE_LIMIT_PER_SEC to {links} or less, or PAYLINK__STRIPE__PAYMENT_LINKS_LIMIT_PER_SEC to the limit Stripe granted the account",
                mode.name()
            ),
        );
    } else if ours > comfortable {
        report.warn(
            "rate limit",
            format!(
                "{ours}/s leaves less than {:.0}% of Stripe's {limit}/s ({} mode) for the Dashboard and other integrations; {comfortable} would",
                (1.0 - HEADROOM) * 100.0,
                mode.name()
            ),
        );
    } else {
        report.ok(
            "rate limit",
            format!("{ours}/s of Stripe's {limit}/s in {} mode", mode.name()),
        );
    }
}

async fn endpoint(
    settings: &Settings,
    db: Option<&DatabaseConnection>,
    endpoints: &[Value],
    report: &mut Report,
) {
    let wanted = format!(
        "{}/webhooks/stripe",
        settings.public_base_url.trim_end_matches('/')
    );
    // What is printed: the public URL has no business holding credentials, but if it does,
    // they are not repeated here.
    let shown = redact_url(&wanted);
    let version = api_version();
    let events: Vec<String> = CHECKOUT_EVENT_TYPES
        .iter()
        .map(|t| format!("-d 'enabled_events[]={t}'"))
        .collect();
    let create = format!(
        "curl https://api.stripe.com/v1/webhook_endpoints -u \"$PAYLINK__STRIPE__SECRET_KEY:\" -d url={shown} {} -d api_version={version}",
        events.join(" ")
    );
    let url_of = |e: &Value| e["url"].as_str().unwrap_or_default().to_owned();
    let Some(found) = endpoints
        .iter()
        .find(|e| url_of(e).trim_end_matches('/') == wanted)
    else {
        let others: Vec<String> = endpoints.iter().map(|e| redact_url(&url_of(e))).collect();
        report.fail(
            "webhook endpoint",
            format!(
                "none of the account's {} endpoint(s) points at {shown}{}.",
                endpoints.len(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (they point at {})", others.join(", "))
                }
            ),
            format!(
                "add one in the Dashboard (Developers → Webhooks) for the events {}, or: {create}",
                CHECKOUT_EVENT_TYPES.join(", ")
            ),
        );
        for check in &STRIPE_CHECKS[4..] {
            report.skip(check, "needs the endpoint");
        }
        return;
    };
    let id = found["id"].as_str().unwrap_or("?");
    if found["status"].as_str() == Some("enabled") {
        report.ok("webhook endpoint", format!("{id} at {shown}, enabled"));
    } else {
        report.fail(
            "webhook endpoint",
            format!(
                "{id} at {shown} is {}: Stripe sends it nothing.",
                found["status"].as_str().unwrap_or("not enabled")
            ),
            "enable it in the Dashboard (Developers → Webhooks → the endpoint).",
        );
    }
    let enabled: Vec<&str> = found["enabled_events"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = CHECKOUT_EVENT_TYPES
        .iter()
        .copied()
        .filter(|t| !enabled.contains(t) && !enabled.contains(&"*"))
        .collect();
    if missing.is_empty() {
        report.ok(
            "webhook events",
            format!("sends {}", CHECKOUT_EVENT_TYPES.join(", ")),
        );
    } else {
        report.fail(
            "webhook events",
            format!("{id} does not send {}.", missing.join(", ")),
            format!("add them to the endpoint's events (curl https://api.stripe.com/v1/webhook_endpoints/{id} -u \"$PAYLINK__STRIPE__SECRET_KEY:\" with -d 'enabled_events[]=…' for each of {}).", CHECKOUT_EVENT_TYPES.join(", ")),
        );
    }
    match found["api_version"].as_str() {
        None => report.fail(
            "webhook version",
            format!("{id} has no pinned API version: its events take the account's default version, which changes when the account is upgraded; paylink reads {version}."),
            format!("Stripe cannot change an endpoint's version: create a new endpoint with api_version={version} ({create}), move the signing secret to PAYLINK__STRIPE__WEBHOOK_SECRETS, then delete the old one."),
        ),
        Some(v) if v == version => report.ok("webhook version", format!("pinned to {v}, the version paylink reads")),
        Some(v) => report.warn(
            "webhook version",
            format!("pinned to {v}; paylink reads {version} (checkout session fields it uses rarely change, but a new endpoint at {version} removes the doubt)"),
        ),
    }
    secret(db, report).await;
}

/// Events from the other mode settle nothing (docs/stripe.md, "Test and live apart"); any that
/// came mean a webhook secret of the other mode's endpoint is configured.
async fn event_mode(db: Option<&DatabaseConnection>, report: &mut Report, live: bool) {
    let Some(db) = db else {
        report.skip("event mode", "needs the database");
        return;
    };
    let (ours, theirs) = (mode_name(live), mode_name(!live));
    match paylink_core::store::stripe_event::from_the_other_mode(db).await {
        Ok((0, _)) => report.ok(
            "event mode",
            format!("every event stored is from {ours} mode, as the key is"),
        ),
        // A warning, not a failure: they settled nothing, and they stay stored after the fix.
        Ok((count, latest)) => report.warn(
            "event mode",
            format!(
                "{count} event(s) from {theirs} mode reached paylink and settled nothing (the latest {}, {}): PAYLINK__STRIPE__WEBHOOK_SECRETS has held the signing secret of a {theirs}-mode endpoint. Keep only the {ours}-mode endpoint's secret, and point the {theirs}-mode endpoint at a {theirs}-mode deployment or delete it; the events are listed on /admin/failures",
                latest.as_ref().map_or("", |e| e.id.as_str()),
                latest.as_ref().map_or_else(String::new, |e| e.received_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            ),
        ),
        Err(e) => report.fail("event mode", format!("could not read the stored events: {e}"), "check the database check above."),
    }
}

/// Stripe never shows an endpoint's secret again after creating it: what can be known is
/// whether the intake has verified a delivery with the configured secrets.
async fn secret(db: Option<&DatabaseConnection>, report: &mut Report) {
    let last = match db {
        Some(db) => paylink_core::store::stripe_event::last_delivered_at(db)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match last {
        Some(at) => report.ok(
            "endpoint secret",
            format!(
                "the intake verified a delivery from Stripe with it at {}",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        None => report.warn(
            "endpoint secret",
            "Stripe shows an endpoint's signing secret only in its Dashboard, and no delivery has reached this database yet: compare the endpoint's Signing secret (Developers → Webhooks → the endpoint → Reveal) with PAYLINK__STRIPE__WEBHOOK_SECRETS, or send a test event from there and run the doctor again",
        ),
    }
}
