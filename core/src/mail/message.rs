//! The pay link mail as a message: multipart/alternative (text, then HTML, both UTF-8), from the
//! organisation to the payer, under the Message-ID paylink fixed when it queued the mail, so that
//! a mail sent again after a crash is the same message to the payer's mail system.

use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use rand::Rng as _;

use super::one_line::one_line;
use super::templates::RenderedMail;

/// Why a message cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// An address that does not read as one (`Name <user@example.org>` or `user@example.org`).
    #[error("cannot read the mail address {address:?}: {source}")]
    Address {
        address: String,
        source: lettre::address::AddressError,
    },
    /// A Message-ID not of the form `<left@right>` in printable ASCII.
    #[error("the Message-ID {0:?} is not of the form <random@domain>")]
    MessageId(String),
    #[error("the mail cannot be built: {0}")]
    Build(#[from] lettre::error::Error),
}

/// `address` as a mailbox: `billing@example.org`, `Riverside League <billing@example.org>`, or
/// with a quoted name (`"Riverside League, U12" <billing@example.org>`); names may be
/// non-ASCII. The settings' From and Reply-To are read with it once, at start.
pub fn parse_mailbox(address: &str) -> Result<Mailbox, MessageError> {
    address
        .trim()
        .parse()
        .map_err(|source| MessageError::Address {
            address: address.to_owned(),
            source,
        })
}

/// The pay link mail to `to` (the payer's name, which may be empty, and address): From `from`,
/// Reply-To `reply_to` when given, the rendered subject, Date now, Message-ID `message_id` (the
/// only one), and `rendered`'s text and HTML as the two alternatives, text first.
pub fn pay_link_message(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    to: (&str, &str),
    message_id: &str,
    rendered: &RenderedMail,
) -> Result<Message, MessageError> {
    let (name, email) = to;
    let address: Address = email
        .trim()
        .parse()
        .map_err(|source| MessageError::Address {
            address: email.to_owned(),
            source,
        })?;
    let name = one_line(name);
    let recipient = Mailbox::new((!name.is_empty()).then_some(name), address);
    if !is_message_id(message_id) {
        return Err(MessageError::MessageId(message_id.to_owned()));
    }
    let mut builder = Message::builder().from(from.clone());
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let message = builder
        .to(recipient)
        .subject(one_line(&rendered.subject))
        .date_now()
        .message_id(Some(message_id.to_owned()))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))?;
    Ok(message)
}

/// A new Message-ID, `<32 hex digits@domain>` (128 random bits), for the mail paylink is about to
/// queue; `domain` is the From address's (`Mailbox::email.domain()`).
pub fn new_message_id(domain: &str) -> String {
    let random: u128 = rand::rng().random();
    format!("<{random:032x}@{domain}>")
}

/// `<left@right>`, both sides non-empty printable ASCII without `<`, `>` or `@` in the right.
fn is_message_id(id: &str) -> bool {
    let Some(inner) = id.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
        return false;
    };
    let Some((left, right)) = inner.rsplit_once('@') else {
        return false;
    };
    let printable = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>'))
    };
    printable(left) && printable(right)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const ID: &str = "<0123456789abcdef0123456789abcdef@example.org>";

    fn rendered() -> RenderedMail {
        RenderedMail {
            subject: "Payment for April dues: $45.00".to_owned(),
            text: "Hi Pat,\n\nhttps://pay.example.org/pay/tok\n".to_owned(),
            html: "<p>Hi Pat,</p>\n<a href=\"https://pay.example.org/pay/tok\">Pay</a>\n"
                .to_owned(),
        }
    }

    fn from() -> Mailbox {
        parse_mailbox("Riverside League <billing@example.org>").expect("reads")
    }

    /// The message as sent: its header lines (folded lines joined) and its body.
    fn sent(message: &Message) -> (Vec<String>, String) {
        let bytes = String::from_utf8(message.formatted()).expect("the message is ASCII");
        let (head, body) = bytes.split_once("\r\n\r\n").expect("headers, then a body");
        let mut headers: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            match headers.last_mut() {
                Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
                _ => headers.push(line.to_owned()),
            }
        }
        (headers, body.to_owned())
    }

    fn named<'a>(headers: &'a [String], name: &str) -> Vec<&'a str> {
        let prefix = format!("{name}: ");
        headers
            .iter()
            .filter_map(|h| h.strip_prefix(&prefix))
            .collect()
    }

    /// A header value as a mail program shows it: encoded words (`=?utf-8?b?…?=`) decoded, the
    /// space between two of them dropped (RFC 2047), a quoted name unquoted.
    fn shown(value: &str) -> String {
        let mut out = String::new();
        let mut after_encoded = false;
        for word in value.split(' ') {
            let encoded = word
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="));
            match encoded {
                Some(b64) => {
                    if !after_encoded && !out.is_empty() {
                        out.push(' ');
                    }
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .expect("base64");
                    out.push_str(&String::from_utf8(bytes).expect("UTF-8"));
                }
                None => {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(word);
                }
            }
            after_encoded = encoded.is_some();
        }
        match out.split_once("\" <") {
            Some((name, address)) if name.starts_with('"') => {
                format!("{} <{address}", name[1..].replace("\\\"", "\""))
            }
            _ => out,
        }
    }

    #[test]
    fn the_message_has_its_headers_and_the_given_message_id_once() {
        let message = pay_link_message(&from(), None, ("Pat", "pat@example.com"), ID, &rendered())
            .expect("builds");
        let (headers, _) = sent(&message);
        assert_eq!(named(&headers, "Message-ID"), [ID]);
        assert_eq!(
            headers
                .iter()
                .filter(|h| h.to_ascii_lowercase().starts_with("message-id:"))
                .count(),
            1
        );
        assert_eq!(
            named(&headers, "From"),
            ["\"Riverside League\" <billing@example.org>"]
        );
        assert_eq!(named(&headers, "To"), ["Pat <pat@example.com>"]);
        assert_eq!(
            named(&headers, "Subject"),
            ["Payment for April dues: $45.00"]
        );
        assert_eq!(named(&headers, "Date").len(), 1);
        assert_eq!(named(&headers, "MIME-Version"), ["1.0"]);
        assert!(named(&headers, "Reply-To").is_empty(), "{headers:?}");
    }

    #[test]
    fn the_body_is_text_then_html_as_alternatives_in_utf8() {
        let message = pay_link_message(&from(), None, ("Pat", "pat@example.com"), ID, &rendered())
            .expect("builds");
        let (headers, body) = sent(&message);
        let content_type = named(&headers, "Content-Type");
        assert_eq!(content_type.len(), 1);
        assert!(
            content_type[0].starts_with("multipart/alternative;"),
            "{content_type:?}"
        );
        let text = body
            .find("Content-Type: text/plain; charset=utf-8")
            .expect("a text part");
        let html = body
            .find("Content-Type: text/html; charset=utf-8")
            .expect("an HTML part");
        assert!(text < html, "text first:\n{body}");
        assert!(body.contains("https://pay.example.org/pay/tok"));
    }

    #[test]
    fn reply_to_is_there_only_when_set() {
        let reply_to = parse_mailbox("treasurer@example.org").expect("reads");
        let message = pay_link_message(
            &from(),
            Some(&reply_to),
            ("Pat", "pat@example.com"),
            ID,
            &rendered(),
        )
        .expect("builds");
        let (headers, _) = sent(&message);
        assert_eq!(named(&headers, "Reply-To"), ["treasurer@example.org"]);
    }

    #[test]
    fn names_that_need_quoting_or_encoding_work() {
        let from = parse_mailbox("\"Riverside League, U12\" <billing@example.org>").expect("reads");
        assert_eq!(from.name.as_deref(), Some("Riverside League, U12"));
        let reply_to = parse_mailbox("Zoë Müller <zoe@example.org>").expect("reads");
        let message = pay_link_message(
            &from,
            Some(&reply_to),
            ("Åsa \"Ace\" Ölund,\nJr.", "asa@example.com"),
            ID,
            &RenderedMail {
                subject: "Cotisation d'avril : ¥4,500".to_owned(),
                ..rendered()
            },
        )
        .expect("builds");
        let (headers, _) = sent(&message);
        let shown_in = |name: &str| {
            let values = named(&headers, name);
            assert_eq!(values.len(), 1, "one {name}: {headers:?}");
            shown(values[0])
        };
        assert_eq!(
            shown_in("From"),
            "Riverside League, U12 <billing@example.org>"
        );
        assert_eq!(shown_in("Reply-To"), "Zoë Müller <zoe@example.org>");
        assert_eq!(shown_in("To"), "Åsa \"Ace\" Ölund, Jr. <asa@example.com>");
        assert_eq!(shown_in("Subject"), "Cotisation d'avril : ¥4,500");
    }

    #[test]
    fn a_payer_without_a_name_gets_the_bare_address() {
        let message = pay_link_message(&from(), None, (" ", "pat@example.com"), ID, &rendered())
            .expect("builds");
        let (headers, _) = sent(&message);
        assert_eq!(named(&headers, "To"), ["pat@example.com"]);
    }

    #[test]
    fn an_unreadable_address_is_named() {
        let error = parse_mailbox("Riverside League billing@").expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("cannot read the mail address \"Riverside League billing@\": "),
            "{error}"
        );
        let error =
            pay_link_message(&from(), None, ("Pat", "pat@"), ID, &rendered()).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("cannot read the mail address \"pat@\": "),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_message_id_is_refused() {
        for id in [
            "abc@example.org",
            "<abc>",
            "<@example.org>",
            "<abc@>",
            "<a b@example.org>",
            "<abc@example.org>\r\nBcc: x@example.org",
        ] {
            let error =
                pay_link_message(&from(), None, ("Pat", "pat@example.com"), id, &rendered())
                    .expect_err("refused");
            assert!(matches!(error, MessageError::MessageId(_)), "{id}: {error}");
        }
    }

    #[test]
    fn new_message_ids_are_128_random_bits_at_the_domain() {
        let domain = from().email.domain().to_owned();
        let (a, b) = (new_message_id(&domain), new_message_id(&domain));
        assert_ne!(a, b);
        let random = a
            .strip_prefix('<')
            .and_then(|id| id.strip_suffix("@example.org>"))
            .expect("<…@example.org>");
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(is_message_id(&a));
    }
}
