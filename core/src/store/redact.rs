//! URLs made safe for logs and error messages: database and Redis URLs carry passwords, in
//! the userinfo (`postgres://user:password@host/db`) and in the query string
//! (`?password=…`, `?sslpassword=…`), and either may end up in a message.

/// Words that mark a query parameter of a database or queue URL as a secret: any key
/// containing `pass` (`password`, `sslpassword`, `passfile`'s neighbours), `pwd`, `secret` or
/// `token`, in any case.
const SETTINGS_SECRET_WORDS: &[&str] = &["pass", "pwd", "secret", "token"];

/// Whether a query parameter named `key` holds a secret: it contains one of `words`, in any case.
fn is_secret_key(key: &str, words: &[&str]) -> bool {
    let key = key.to_ascii_lowercase();
    words.iter().any(|word| key.contains(word))
}

/// A URL without its passwords, safe to put in logs and error messages: the userinfo's
/// password and the value of every query parameter whose name says it is a secret become
/// `***`; for an http(s) URL a user name alone is hidden too (Stripe, for one, takes its secret
/// key as the user name). Everything else is kept as written.
///
/// A password is often random and may hold a raw `@`, `?`, `/` or `#` that the URL should have
/// percent-encoded. A driver then cuts the URL somewhere the operator did not mean, but the
/// password must stay hidden whatever reading was meant: when an `@` comes after the first
/// `/`, `?` or `#` following the scheme, everything from the first `:` of the userinfo to the
/// last `@` is hidden (`postgres://u:pa?ss@host/db` → `postgres://u:***@host/db`). That hides
/// too much only when a query value holds an `@` as well; it never shows too much.
pub fn redact_url(url: &str) -> String {
    redact_url_hiding(url, SETTINGS_SECRET_WORDS)
}

/// [`redact_url`], hiding the values of query parameters whose names contain any of `words`
/// (in any case): a webhook receiver's URL calls its secrets `key`, `sig` or `auth` as well.
pub fn redact_url_hiding(url: &str, words: &[&str]) -> String {
    let redact_tail = |tail: &str| redact_tail(tail, words);
    let Some(scheme_end) = url.find("://") else {
        return redact_tail(url);
    };
    let authority_start = scheme_end + 3;
    let (scheme, rest) = (&url[..authority_start], &url[authority_start..]);
    let Some(last_at) = rest.rfind('@') else {
        return format!("{scheme}{}", redact_tail(rest));
    };
    // Where a driver ends the authority: the first `/`, `?` or `#`.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if last_at > authority_end
        && let Some(colon) = rest.find(':').filter(|colon| *colon < last_at)
        && !rest[..colon].contains(['/', '?', '#', '@'])
    {
        // A raw `/`, `?` or `#` may be in the password: hide up to the last `@`.
        return format!(
            "{scheme}{}:***@{}",
            &rest[..colon],
            redact_tail(&rest[last_at + 1..])
        );
    }
    let Some(at) = rest[..authority_end].rfind('@') else {
        return format!("{scheme}{}", redact_tail(rest));
    };
    let userinfo = &rest[..at];
    let shown = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None if is_web(scheme) => "***".to_owned(),
        None => userinfo.to_owned(),
    };
    format!("{scheme}{shown}@{}", redact_tail(&rest[at + 1..]))
}

/// Whether `scheme` (with its `://`) is http or https.
fn is_web(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    scheme == "http://" || scheme == "https://"
}

/// What follows the userinfo (host, path, query, fragment), with the query's secrets hidden.
fn redact_tail(tail: &str, words: &[&str]) -> String {
    match tail.find('?') {
        Some(q) => format!("{}?{}", &tail[..q], redact_query(&tail[q + 1..], words)),
        None => tail.to_owned(),
    }
}

/// `a=1&password=x#frag` → `a=1&password=***#frag`. Names are compared decoded
/// (`pass%77ord` is `password` to a driver).
fn redact_query(query: &str, words: &[&str]) -> String {
    let (pairs, fragment) = match query.find('#') {
        Some(hash) => (&query[..hash], Some(&query[hash..])),
        None => (query, None),
    };
    let mut out: Vec<String> = Vec::new();
    for pair in pairs.split('&') {
        let raw_key = pair.split_once('=').map_or(pair, |(key, _)| key);
        let decoded: String = form_urlencoded::parse(raw_key.as_bytes())
            .map(|(key, _)| key.into_owned())
            .collect();
        if pair.contains('=') && (is_secret_key(raw_key, words) || is_secret_key(&decoded, words)) {
            out.push(format!("{raw_key}=***"));
        } else {
            out.push(pair.to_owned());
        }
    }
    let mut redacted = out.join("&");
    if let Some(fragment) = fragment {
        redacted.push_str(fragment);
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn the_userinfo_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://paylink:s3cret@db:5432/paylink"),
            "postgres://paylink:***@db:5432/paylink"
        );
        assert_eq!(
            redact_url("redis://:s3cret@redis:6379/0"),
            "redis://:***@redis:6379/0"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss/w@rd@h/db"),
            "postgres://u:***@h/db"
        );
    }

    /// A password with a raw `?`, `@`, `/` or `#` (one a driver would misread) is hidden
    /// whichever way the URL is read; the host is still shown where it can be told.
    #[test]
    fn a_password_with_raw_reserved_characters_is_never_shown() {
        for (url, shown) in [
            ("postgres://u:pa?ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p@ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p@ss?word@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:pa?s@s@host:5432/db",
                "postgres://u:***@host:5432/db",
            ),
            ("postgres://u:pa#ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:12/ss@host/db", "postgres://u:***@host/db"),
            (
                "postgres://u:pa?ss@host/db?sslpassword=x",
                "postgres://u:***@host/db?sslpassword=***",
            ),
            ("redis://:pa?ss@redis:6379/0", "redis://:***@redis:6379/0"),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, shown, "{url}");
            for part in ["pa", "ss", "word", "12"] {
                assert!(!redacted.contains(&format!(":{part}")), "{redacted}");
            }
        }
        // An `@` in a query value beside a password hides more than needed, never less.
        let both = redact_url("postgres://u:s3cret@h/db?application_name=a@b");
        assert!(!both.contains("s3cret"), "{both}");
    }

    #[test]
    fn a_user_name_alone_is_hidden_in_a_web_url_only() {
        assert_eq!(
            redact_url("https://sk_live_abc@api.stripe.com/"),
            "https://***@api.stripe.com/"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:12111/"),
            "http://user:***@127.0.0.1:12111/"
        );
        assert_eq!(
            redact_url("postgres://paylink@db/paylink"),
            "postgres://paylink@db/paylink",
            "a database user name says which role connects"
        );
    }

    #[test]
    fn passwords_and_other_secrets_in_the_query_are_redacted() {
        assert_eq!(
            redact_url("postgres://u@h/db?password=s3cret"),
            "postgres://u@h/db?password=***"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&sslpassword=s3cret&application_name=x"),
            "postgres://u@h/db?sslmode=require&sslpassword=***&application_name=x"
        );
        assert_eq!(
            redact_url("postgres://u:p@h/db?PassWord=s3cret&auth_token=t0k&client_secret=x#f"),
            "postgres://u:***@h/db?PassWord=***&auth_token=***&client_secret=***#f"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?pass%77ord=s3cret"),
            "postgres://u@h/db?pass%77ord=***"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?pass%77ord=s3cret&password=a@b"),
            "postgres://u@h/db?pass%77ord=***&password=***"
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for url in [
            "sqlite://data/paylink.db",
            "sqlite://data/paylink.db?mode=rwc",
            "sqlite::memory:",
            "postgres://u@h/db",
            "postgres://h/db?sslmode=require&application_name=paylink",
            "redis://redis:6379",
            "https://api.stripe.com/",
            "https://pay.example.org/webhooks/stripe?x=1",
            "not a url",
            "",
            "?",
            "postgres://u@h/db?&=&password",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }
}
