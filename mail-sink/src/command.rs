//! One SMTP command line, parsed (RFC 5321 section 4.1): the verb (any case), its argument, and
//! for MAIL and RCPT the path between `<` and `>` and the parameters after it.

/// A command as the client sent it. Whether it is allowed now is the session's business.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    Mail(PathArgument),
    Rcpt(PathArgument),
    /// Whatever followed `DATA` (RFC 5321 allows nothing).
    Data(String),
    Rset(String),
    Noop,
    Quit,
    Vrfy(String),
    Expn,
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
    Unknown,
}

/// The path of MAIL FROM or RCPT TO and the parameters after it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PathArgument {
    /// The mailbox without its angle brackets and source route; empty for the null path `<>`.
    pub mailbox: String,
    pub params: Vec<Param>,
}

/// `KEY` or `KEY=VALUE` after a path; the key upper-cased.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Param {
    pub key: String,
    pub value: Option<String>,
}

impl Param {
    /// As the client sent it, for the record.
    pub fn to_wire(&self) -> String {
        match &self.value {
            Some(value) => format!("{}={value}", self.key),
            None => self.key.clone(),
        }
    }
}

/// A command whose arguments break the syntax: answered 501 with this text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError(pub &'static str);

impl Command {
    /// Parses one line without its line ending.
    pub fn parse(line: &str) -> Result<Command, SyntaxError> {
        let (verb, rest) = match line.split_once(' ') {
            Some((verb, rest)) => (verb, rest),
            None => (line, ""),
        };
        let argument = rest.trim().to_owned();
        let command = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => Command::Ehlo(argument),
            "HELO" => Command::Helo(argument),
            "MAIL" => Command::Mail(path_argument(rest, "FROM:")?),
            "RCPT" => Command::Rcpt(path_argument(rest, "TO:")?),
            "DATA" => Command::Data(argument),
            "RSET" => Command::Rset(argument),
            "NOOP" => Command::Noop,
            "QUIT" => Command::Quit,
            "VRFY" => Command::Vrfy(argument),
            "EXPN" => Command::Expn,
            "HELP" => Command::Help,
            "STARTTLS" => Command::StartTls,
            "AUTH" => {
                let mut words = argument.split_whitespace();
                let mechanism = words
                    .next()
                    .ok_or(SyntaxError("5.5.4 AUTH needs a mechanism"))?
                    .to_ascii_uppercase();
                let initial_response = words.next().map(str::to_owned);
                if words.next().is_some() {
                    return Err(SyntaxError("5.5.4 too many arguments to AUTH"));
                }
                Command::Auth {
                    mechanism,
                    initial_response,
                }
            }
            _ => Command::Unknown,
        };
        Ok(command)
    }
}

/// `FROM:<path> params` or `TO:<path> params`. A space after the colon is tolerated, as real
/// servers tolerate it.
fn path_argument(rest: &str, keyword: &str) -> Result<PathArgument, SyntaxError> {
    let head = rest.get(..keyword.len()).unwrap_or_default();
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(if keyword == "FROM:" {
            SyntaxError("5.5.4 syntax: MAIL FROM:<address>")
        } else {
            SyntaxError("5.5.4 syntax: RCPT TO:<address>")
        });
    }
    let after = rest[keyword.len()..].trim_start();
    let (mailbox, params) = path(after)?;
    Ok(PathArgument {
        mailbox,
        params: parse_params(params)?,
    })
}

/// Splits `<mailbox> params` into the mailbox (source route dropped) and what follows `>`.
fn path(text: &str) -> Result<(String, &str), SyntaxError> {
    let inner = text
        .strip_prefix('<')
        .ok_or(SyntaxError("5.1.3 the address must be in angle brackets"))?;
    let mut quoted = false;
    let mut escaped = false;
    let mut end = None;
    for (index, ch) in inner.char_indices() {
        if escaped {
            escaped = false;
        } else if ch == '\\' && quoted {
            escaped = true;
        } else if ch == '"' {
            quoted = !quoted;
        } else if ch == '>' && !quoted {
            end = Some(index);
            break;
        }
    }
    let end = end.ok_or(SyntaxError("5.1.3 unterminated address"))?;
    let mut mailbox = &inner[..end];
    // A source route (`@relay1,@relay2:user@host`) is accepted and ignored (RFC 5321 4.1.1.3).
    if mailbox.starts_with('@') {
        mailbox = mailbox
            .split_once(':')
            .map(|(_, mailbox)| mailbox)
            .ok_or(SyntaxError("5.1.3 bad source route"))?;
    }
    let rest = &inner[end + 1..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(SyntaxError(
            "5.5.4 parameters must follow the address after a space",
        ));
    }
    if !mailbox.is_empty() && !is_mailbox(mailbox) {
        return Err(SyntaxError("5.1.3 bad address syntax"));
    }
    Ok((mailbox.to_owned(), rest))
}

/// `local@domain` with both parts present and no whitespace or control characters outside a
/// quoted local part; or the bare `postmaster` RCPT TO allows.
fn is_mailbox(mailbox: &str) -> bool {
    if mailbox.eq_ignore_ascii_case("postmaster") {
        return true;
    }
    let Some((local, domain)) = mailbox.rsplit_once('@') else {
        return false;
    };
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        !local.chars().any(|c| c.is_control())
    } else {
        !local.is_empty()
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:@\"".contains(c))
    };
    let domain_ok = !domain.is_empty()
        && !domain
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()\\,;:@\"".contains(c));
    local_ok && domain_ok
}

fn parse_params(text: &str) -> Result<Vec<Param>, SyntaxError> {
    text.split(' ')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let (key, value) = match word.split_once('=') {
                Some((key, value)) => (key, Some(value.to_owned())),
                None => (word, None),
            };
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(SyntaxError("5.5.4 bad parameter"));
            }
            Ok(Param {
                key: key.to_ascii_uppercase(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(line: &str) -> PathArgument {
        match Command::parse(line) {
            Ok(Command::Mail(argument)) | Ok(Command::Rcpt(argument)) => argument,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn verbs_are_read_in_any_case() {
        assert_eq!(
            Command::parse("ehlo x.test"),
            Ok(Command::Ehlo("x.test".into()))
        );
        assert_eq!(Command::parse("QuIt"), Ok(Command::Quit));
        assert_eq!(Command::parse("NOOP anything"), Ok(Command::Noop));
        assert_eq!(Command::parse("BDAT 10 LAST"), Ok(Command::Unknown));
        assert_eq!(Command::parse(""), Ok(Command::Unknown));
    }

    #[test]
    fn paths_keep_the_mailbox_and_read_parameters() {
        let argument = mail("MAIL FROM:<a@example.com> SIZE=12 body=8BITMIME SMTPUTF8");
        assert_eq!(argument.mailbox, "a@example.com");
        let wire: Vec<String> = argument.params.iter().map(Param::to_wire).collect();
        assert_eq!(wire, ["SIZE=12", "BODY=8BITMIME", "SMTPUTF8"]);
        assert_eq!(mail("mail from:<>").mailbox, "");
        assert_eq!(mail("MAIL FROM: <a@example.com>").mailbox, "a@example.com");
        assert_eq!(
            mail("RCPT TO:<@relay.test,@b.test:u@c.test>").mailbox,
            "u@c.test"
        );
        assert_eq!(mail("RCPT TO:<\"a >b\"@c.test>").mailbox, "\"a >b\"@c.test");
        assert_eq!(mail("RCPT TO:<Postmaster>").mailbox, "Postmaster");
        assert_eq!(mail("RCPT TO:<pä@exämple.test>").mailbox, "pä@exämple.test");
    }

    #[test]
    fn malformed_paths_are_syntax_errors() {
        for line in [
            "MAIL FROM:a@example.com",
            "MAIL FROM:<a@example.com",
            "MAIL TO:<a@example.com>",
            "RCPT TO:<a@>",
            "RCPT TO:<@example.com>",
            "RCPT TO:<a b@example.com>",
            "RCPT TO:<nobody>",
            "RCPT TO:<a@example.com>X=1",
            "MAIL FROM:<a@example.com> =1",
            "MAIL",
        ] {
            assert!(Command::parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn auth_takes_a_mechanism_and_maybe_a_response() {
        assert_eq!(
            Command::parse("AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("AGEAYg==".into())
            })
        );
        assert!(Command::parse("AUTH").is_err());
    }
}
