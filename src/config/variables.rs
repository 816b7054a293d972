//! `PAYLINK__…` environment variables that name no setting. figment would ignore them, so a
//! typo (`PAYLINK__DATABSE__URL`) would leave the default in place without a word; paylink
//! refuses them instead, naming the nearest real setting (README, "Settings").

use figment::Provider as _;
use figment::value::{Dict, Value};

use super::{ConfigError, Settings};

/// The prefix of every setting's variable.
const PREFIX: &str = "PAYLINK__";

/// Settings unset by default, so absent from `config/default.toml` (which holds every other).
const UNSET_BY_DEFAULT: [&str; 7] = [
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
    if let Ok(defaults) = Settings::built_in().data() {
        for dict in defaults.values() {
            flatten("", dict, &mut keys);
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn flatten(prefix: &str, dict: &Dict, keys: &mut Vec<String>) {
    for (name, value) in dict {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Dict(_, inner) => flatten(&key, inner, keys),
            _ => keys.push(key),
        }
    }
}

/// A key's environment variable: `stripe.rate_limit_per_sec` → `PAYLINK__STRIPE__RATE_LIMIT_PER_SEC`.
pub fn variable(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// Refuses any of `names` that starts with `PAYLINK__` but names no setting, each with the
/// nearest real one. Only names are read: values (secrets among them) are never printed.
pub fn check(names: impl IntoIterator<Item = String>) -> Result<(), ConfigError> {
    let known: Vec<String> = known_keys().iter().map(|k| variable(k)).collect();
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
        "no such setting: {}; README.md, \"Settings\", lists every PAYLINK__ variable",
        unknown.join(", ")
    )))
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
        check_files(&Settings::built_in()).expect("the shipped defaults are all settings");
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        for key in known_keys() {
            let var = variable(&key);
            // `PAYLINK__ADMIN__SESSION_IDLE_SECS` / `SESSION_MAX_AGE_SECS` share a row.
            let last = var.rsplit("__").next().unwrap_or_default();
            assert!(
                readme.contains(&var) || readme.contains(&format!("`{last}`")),
                "README.md, \"Settings\", does not name {var}"
            );
        }
    }
}
