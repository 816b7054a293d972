//! URLs made safe for logs and error messages: database and Redis URLs carry passwords, in
//! the userinfo (`postgres://user:password@host/db`) and in the query string
//! (`?password=…`, `?sslpassword=…`), and either may end up in a message.

/// Whether a query parameter named `key` holds a secret: any key containing `pass` (`password`,
/// `sslpassword`, `passfile`'s neighbours), `pwd`, `secret` or `token`, in any case.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

/// A database (or Redis) URL without its passwords, safe to put in logs and error messages:
/// the userinfo's password and the value of every query parameter whose name says it is a
/// secret become `***`. Everything else is kept as written.
pub fn redact_url(url: &str) -> String {
    // The query starts at the first `?`; the userinfo ends at the last `@` before it (a
    // password may hold a raw `/` or `@`, but a driver would cut the URL at `?`).
    let (head, query) = match url.find('?') {
        Some(q) => (&url[..q], Some(&url[q + 1..])),
        None => (url, None),
    };
    let mut redacted = redact_userinfo(head);
    if let Some(query) = query {
        redacted.push('?');
        redacted.push_str(&redact_query(query));
    }
    redacted
}

fn redact_userinfo(head: &str) -> String {
    let Some(scheme_end) = head.find("://") else {
        return head.to_owned();
    };
    let authority_start = scheme_end + 3;
    match head[authority_start..].rfind('@') {
        Some(at) => {
            let at = authority_start + at;
            let creds = &head[authority_start..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &head[..authority_start],
                    &creds[..colon],
                    &head[at..]
                ),
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    }
}

/// `a=1&password=x#frag` → `a=1&password=***#frag`. Names are compared decoded
/// (`pass%77ord` is `password` to a driver).
fn redact_query(query: &str) -> String {
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
        if pair.contains('=') && (is_secret_key(raw_key) || is_secret_key(&decoded)) {
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
            "not a url",
            "",
            "?",
            "postgres://u@h/db?&=&password",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }
}
