//! What `PAYLINK_ENV=production` refuses: settings that are only safe on a developer's machine
//! (docs/settings.md). Checked by the commands that serve or work, before they connect to
//! anything; the demo builds its settings in code and is never production.

use super::Settings;
use super::error::ConfigError;

/// Stripe's API, the only `stripe.api_base` production accepts.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";

/// The shortest admin token production accepts (`openssl rand -hex 32` gives 64).
pub const MIN_PRODUCTION_TOKEN_CHARS: usize = 32;

/// What a command runs, for what production demands of its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `serve` and `run`: the intake (and, for `run`, the workers too).
    Intake,
    /// `work`: only the workers, which call Stripe but take no requests.
    Workers,
}

impl Settings {
    /// Whether `PAYLINK_ENV` is `production`.
    pub fn is_production(&self) -> bool {
        self.environment.trim().eq_ignore_ascii_case("production")
    }

    /// In production, refuses settings that are only safe on a developer's machine: a Stripe
    /// base other than Stripe's (it would receive the secret key and mint nothing real), a
    /// public URL that is not https (pay URLs, Stripe's return address and the dashboard's
    /// login would travel in clear) and, for the intake, a guessable admin token or no webhook
    /// secret (every delivery refused).
    pub fn check_production(&self, role: Role) -> Result<(), ConfigError> {
        if !self.is_production() {
            return Ok(());
        }
        // Loopback included: production means payers reach it, and they reach it over https
        // (a TLS-terminating proxy in front of paylink, which speaks plain HTTP).
        if !self
            .public_base_url
            .trim()
            .to_ascii_lowercase()
            .starts_with("https://")
        {
            return Err(ConfigError(format!(
                "PAYLINK__PUBLIC_BASE_URL must be an https:// URL when PAYLINK_ENV=production \
                 (it is {}): payers' pay URLs, Stripe's return to the thank-you page and the \
                 dashboard's login travel over it. Put paylink behind a TLS-terminating proxy \
                 and set the https address payers see",
                paylink_core::store::redact_url(&self.public_base_url)
            )));
        }
        if self.stripe.api_base.trim_end_matches('/') != STRIPE_API_BASE.trim_end_matches('/') {
            return Err(ConfigError(format!(
                "PAYLINK__STRIPE__API_BASE must be {STRIPE_API_BASE} when PAYLINK_ENV=production \
                 (it is {}); the Stripe stand-in is for development and tests only",
                paylink_core::store::redact_url(&self.stripe.api_base)
            )));
        }
        if self
            .email
            .smtp_url
            .as_ref()
            .is_some_and(paylink_core::mailer::turns_tls_off)
        {
            return Err(ConfigError(
                "PAYLINK__EMAIL__SMTP_URL asks for plain SMTP (?tls=off), which production \
                 refuses: payers' pay URLs would cross the network in clear. Use smtp:// \
                 (STARTTLS) or smtps:// (TLS), or a relay on loopback"
                    .into(),
            ));
        }
        if role == Role::Workers {
            return Ok(());
        }
        let token_chars = self.admin.token.as_ref().map_or(0, |t| {
            secrecy::ExposeSecret::expose_secret(t).chars().count()
        });
        if token_chars < MIN_PRODUCTION_TOKEN_CHARS {
            return Err(ConfigError(format!(
                "PAYLINK__ADMIN__TOKEN must be at least {MIN_PRODUCTION_TOKEN_CHARS} characters \
                 when PAYLINK_ENV=production (generate one with `openssl rand -hex 32`)"
            )));
        }
        if self.stripe.webhook_secrets.is_empty() {
            return Err(ConfigError(
                "PAYLINK__STRIPE__WEBHOOK_SECRETS must hold at least one whsec_… secret when \
                 PAYLINK_ENV=production (the signing secret of the Stripe webhook endpoint)"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Role, Settings};

    fn production(changes: &[(&str, &str)]) -> Settings {
        let mut figment = Settings::built_in()
            .merge(("public_base_url", "https://pay.example.org"))
            .merge(("admin.token", "a-token-of-exactly-32-characters"))
            .merge(("stripe.webhook_secrets", "whsec_x"));
        for (key, value) in changes {
            figment = figment.merge((*key, *value));
        }
        let mut settings = Settings::from_figment(figment).expect("valid");
        settings.environment = "production".into();
        settings
    }

    #[test]
    fn each_refusal_names_its_variable_and_never_the_token() {
        assert!(production(&[]).check_production(Role::Intake).is_ok());
        for (change, role, variable) in [
            (
                ("admin.token", "31-characters-is-one-too-few..."),
                Role::Intake,
                "PAYLINK__ADMIN__TOKEN",
            ),
            (
                ("stripe.webhook_secrets", ""),
                Role::Intake,
                "PAYLINK__STRIPE__WEBHOOK_SECRETS",
            ),
            (
                ("stripe.api_base", "http://127.0.0.1:12111/"),
                Role::Intake,
                "PAYLINK__STRIPE__API_BASE",
            ),
            (
                ("stripe.api_base", "https://api.stripe.com.example/"),
                Role::Workers,
                "PAYLINK__STRIPE__API_BASE",
            ),
            (
                ("public_base_url", "http://pay.example.org"),
                Role::Intake,
                "PAYLINK__PUBLIC_BASE_URL",
            ),
            (
                ("public_base_url", "http://127.0.0.1:8080"),
                Role::Workers,
                "PAYLINK__PUBLIC_BASE_URL",
            ),
            (
                ("email.smtp_url", "smtp://mailpit:1025?tls=off"),
                Role::Workers,
                "PAYLINK__EMAIL__SMTP_URL",
            ),
        ] {
            let error = production(&[change])
                .check_production(role)
                .expect_err("refused")
                .to_string();
            assert!(error.contains(variable), "{error}");
            assert!(!error.contains("one-too-few"), "{error}");
        }
        let workers = production(&[("admin.token", ""), ("stripe.webhook_secrets", "")]);
        assert!(
            workers.check_production(Role::Workers).is_ok(),
            "work needs neither"
        );
        let mut development = production(&[("stripe.api_base", "http://127.0.0.1:12111/")]);
        development.environment = "development".into();
        assert!(development.check_production(Role::Intake).is_ok());
    }
}
