//! `PAYLINK__…` environment variables that name no setting. figment would ignore them, so a
//! typo (`PAYLINK__DATABSE__URL`) would leave the default in place without a word; paylink
//! refuses them instead, naming the nearest real setting (docs/settings.md).

use figment::Provider as _;
use figment::value::{Dict, Value};

use super::defaults::built_in;
use super::error::ConfigError;

/// The prefix of every setting's variable.
const PREFIX: &str = "PAYLINK__";

/// Settings unset by default, so absent from `config/default.toml` (which holds every other).
const UNSET_BY_DEFAULT: [&str; 11] = [
    "email.smtp_url",
    "email.from",
    "email.reply_to",
    "email.templates_dir",
    "http.metrics_addr",
    "http.client_ip_header",
    "queue.url",
    "stripe.secret_key",
    "stripe.webhook_secrets",
    "admin.token",
    "workers.metrics_addr",
];

/// Every setting's dotted key (`stripe.rate_limit_per_sec`).
pub fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = UNSET_BY_DEFAULT.iter().map(|k| (*k).to_owned()).collect();
    keys.extend(defaults().into_iter().map(|(key, _)| key));
    keys.sort();
    keys.dedup();
    keys
}

/// Every key the compiled-in `config/default.toml` sets, with its value.
pub(super) fn defaults() -> Vec<(String, Value)> {
    let mut found = Vec::new();
    if let Ok(data) = built_in().data() {
        for dict in data.values() {
            flatten("", dict, &mut found);
        }
    }
    found
}

fn flatten(prefix: &str, dict: &Dict, found: &mut Vec<(String, Value)>) {
    for (name, value) in dict {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Dict(_, inner) => flatten(&key, inner, found),
            _ => found.push((key, value.clone())),
        }
    }
}

/// A key's environment variable: `stripe.rate_limit_per_sec` → `PAYLINK__STRIPE__RATE_LIMIT_PER_SEC`.
pub fn variable(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// Refuses any of `names` that starts with `PAYLINK__` but names no setting, each with the
/// nearest real one; and a setting spelt with single underscores (`PAYLINK_ADMIN_TOKEN`, the
/// spelling of docker-compose.yml's own variables, which it passes into the container as
/// `PAYLINK__ADMIN__TOKEN`) when the setting itself is not set, since paylink would not read it.
/// Only names are read: values (secrets among them) are never printed.
pub fn check(names: impl IntoIterator<Item = String>) -> Result<(), ConfigError> {
    let names: Vec<String> = names.into_iter().collect();
    let known: Vec<String> = known_keys().iter().map(|k| variable(k)).collect();
    let single = single_underscores(&names, &known);
    if !single.is_empty() {
        return Err(ConfigError(format!(
            "paylink reads its settings from variables with two underscores after PAYLINK and \
             between section and key; write {} (docs/settings.md)",
            single.join(", ")
        )));
    }
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|name| name.to_uppercase().starts_with(PREFIX))
        .filter(|name| !known.contains(&name.to_uppercase()))
        .map(|name| match nearest(&name.to_uppercase(), &known) {
            Some(near) => format!("{name} (did you mean {near}?)"),
            None => name,
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(ConfigError(format!(
        "no such setting: {}; docs/settings.md (or `paylink settings`) lists every PAYLINK__ variable",
        unknown.join(", ")
    )))
}

/// Each of `names` that spells a setting with single underscores (`PAYLINK_ADMIN_TOKEN`, or
/// the key's last part alone: `PAYLINK_WEBHOOK_SECRETS`, as docker-compose.yml names them)
/// while the setting's own variable is unset, as `PAYLINK__ADMIN__TOKEN instead of
/// PAYLINK_ADMIN_TOKEN`. paylink's own single-underscore variables (`PAYLINK_ENV`,
/// `PAYLINK_CONFIG`, `PAYLINK_TEST_…`) name no setting, so they never match.
fn single_underscores(names: &[String], known: &[String]) -> Vec<String> {
    let keys = known_keys();
    let last = |key: &str| key.rsplit('.').next().unwrap_or(key).to_uppercase();
    let mut found: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let rest = name
                .to_uppercase()
                .strip_prefix("PAYLINK_")
                .filter(|rest| !rest.starts_with('_'))?
                .to_owned();
            let whole = keys
                .iter()
                .find(|k| k.replace('.', "_").to_uppercase() == rest);
            let mut by_last = keys.iter().filter(|k| last(k) == rest);
            let key = whole.or_else(|| match (by_last.next(), by_last.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            })?;
            let meant = variable(key);
            let set = names.iter().any(|n| n.to_uppercase() == meant);
            (!set && known.contains(&meant)).then(|| format!("{meant} instead of {name}"))
        })
        .collect();
    found.sort();
    found
}

/// Refuses a settings file (`config/…`, `PAYLINK_CONFIG`) that sets a key naming no setting,
/// with the nearest real key: the same silent typo as a variable's.
pub fn check_files(files: &figment::Figment) -> Result<(), ConfigError> {
    let known = known_keys();
    let mut set = Vec::new();
    if let Ok(data) = files.data() {
        for dict in data.values() {
            flatten("", dict, &mut set);
        }
    }
    let mut unknown: Vec<String> = set
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| !known.contains(key))
        .map(|key| match nearest(&key, &known) {
            Some(near) => format!("{key} (did you mean {near}?)"),
            None => key,
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    unknown.dedup();
    Err(ConfigError(format!(
        "a settings file sets no such setting: {}; config/default.toml shows every key",
        unknown.join(", ")
    )))
}

/// The known name closest to `name` by edit distance.
fn nearest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .min_by_key(|k| strsim::levenshtein(name, k))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> String {
        check([name.to_owned()]).expect_err("refused").to_string()
    }

    #[test]
    fn a_typo_is_refused_naming_the_setting_meant() {
        let error = refused("PAYLINK__STRIPE__RATE_LIMT_PER_SEC");
        assert!(
            error.contains("PAYLINK__STRIPE__RATE_LIMT_PER_SEC")
                && error.contains("did you mean PAYLINK__STRIPE__RATE_LIMIT_PER_SEC?"),
            "{error}"
        );
        let error = refused("PAYLINK__DATABSE__URL");
        assert!(
            error.contains("did you mean PAYLINK__DATABASE__URL?"),
            "{error}"
        );
    }

    #[test]
    fn a_setting_spelt_with_single_underscores_is_refused_naming_the_spelling_meant() {
        let error = refused("PAYLINK_ADMIN_TOKEN");
        assert!(
            error.contains("write PAYLINK__ADMIN__TOKEN instead of PAYLINK_ADMIN_TOKEN"),
            "{error}"
        );
        for (written, meant) in [
            ("PAYLINK_DATABASE_URL", "PAYLINK__DATABASE__URL"),
            ("PAYLINK_STRIPE_SECRET_KEY", "PAYLINK__STRIPE__SECRET_KEY"),
            (
                "PAYLINK_WEBHOOK_SECRETS",
                "PAYLINK__STRIPE__WEBHOOK_SECRETS",
            ),
            ("PAYLINK_PUBLIC_BASE_URL", "PAYLINK__PUBLIC_BASE_URL"),
        ] {
            let error = refused(written);
            assert!(
                error.contains(&format!("{meant} instead of {written}")),
                "{error}"
            );
        }
        // docker-compose.yml's own names for what it passes under the right one, and
        // paylink's single-underscore variables, pass.
        check(
            [
                "PAYLINK_ADMIN_TOKEN",
                "PAYLINK__ADMIN__TOKEN",
                "PAYLINK_POSTGRES_PASSWORD",
                "PAYLINK_FAKE_WEBHOOK_SECRET",
                "PAYLINK_ENV",
                "PAYLINK_CONFIG",
                "PAYLINK_TEST_LOG",
                "PAYLINK_TEST_POSTGRES_URL",
                "PAYLINK_TEST_REDIS_URL",
            ]
            .map(str::to_owned),
        )
        .expect("passes");
    }

    #[test]
    fn every_setting_and_other_variables_pass() {
        let settings: Vec<String> = known_keys().iter().map(|k| variable(k)).collect();
        assert!(settings.contains(&"PAYLINK__ADMIN__TOKEN".to_owned()));
        assert!(settings.contains(&"PAYLINK__PUBLIC_BASE_URL".to_owned()));
        assert!(settings.contains(&"PAYLINK__LOG__LEVEL".to_owned()));
        let others = ["PAYLINK_ENV", "PAYLINK_CONFIG", "PAYLINK_TEST_LOG", "PATH"];
        check(settings.into_iter().chain(others.map(str::to_owned))).expect("all known");
    }

    #[test]
    fn a_settings_file_with_a_misspelt_key_is_refused_naming_the_key_meant() {
        let file = figment::Figment::new().merge(
            <figment::providers::Toml as figment::providers::Format>::string(
                "public_base_url = \"http://x\"\n[databse]\nurl = \"sqlite://x.db\"\n",
            ),
        );
        let error = check_files(&file).expect_err("refused").to_string();
        assert!(
            error.contains("databse.url (did you mean database.url?)"),
            "{error}"
        );
        check_files(&built_in()).expect("the shipped defaults are all settings");
    }
}
