//! `paylink doctor [--create-test-link]`: a pre-flight check of a deployment, with the settings
//! `serve` and `work` read, before a blast reaches thousands of payers (docs/stripe.md, "Before
//! your first blast"). One line per check, `ok`, `warn` or `FAIL` with what to do; exit 0 only when
//! nothing failed. Nothing is changed, except for the test links `--create-test-link` makes (and
//! switches off again): the database is only read (not even the migrations table is created in
//! an empty one), and every URL printed goes through `redact_url` first.

mod deployment;
mod mail;
mod report;
mod stripe_setup;
mod test_links;

pub use report::Report;
pub use test_links::Keep;

use crate::config::Settings;

/// The doctor found something to fix (exit 1; the lines above say what).
#[derive(Debug, thiserror::Error)]
#[error("{0} check(s) failed; fix what the FAIL lines say, then run `paylink doctor` again")]
pub struct Failed(pub usize);

pub async fn run(
    settings: &Settings,
    create_test_link: bool,
    keep: Keep,
    send_test_email: Option<&str>,
) -> anyhow::Result<()> {
    let mut report = Report::default();
    println!(
        "paylink doctor: PAYLINK_ENV={}, Stripe at {}",
        if settings.environment.is_empty() {
            "(unset)"
        } else {
            &settings.environment
        },
        paylink_core::store::redact_url(&settings.stripe.api_base)
    );
    if create_test_link && settings.live_stripe_key() {
        report.fail(
            "test links",
            "--create-test-link refused with a live key: the links would take real money.",
            "run it with the account's sk_test_ key (PAYLINK__STRIPE__SECRET_KEY) before switching to live.",
        );
        return Err(Failed(report.failures).into());
    }
    let db = deployment::check(settings, &mut report).await;
    let accepted = stripe_setup::check(settings, db.as_ref(), &mut report).await;
    mail::check(settings, send_test_email, &mut report).await;
    if create_test_link {
        let currency = match &db {
            Some(db) => paylink_core::store::product::newest_currency(db)
                .await
                .ok()
                .flatten(),
            None => None,
        }
        .unwrap_or_else(|| "usd".to_owned());
        test_links::check(settings, accepted.as_ref(), &currency, keep, &mut report).await;
    }
    if report.failures > 0 {
        return Err(Failed(report.failures).into());
    }
    println!(
        "no check failed ({} warning(s)){}",
        report.warnings,
        if create_test_link {
            ""
        } else {
            "; `paylink doctor --create-test-link` also checks the links paylink makes"
        }
    );
    Ok(())
}
