//! The parsed view of a received message, read with mail-parser: the headers a test asks about
//! and the text and HTML bodies decoded from their transfer encoding and charset.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};

/// A message as a mail client would show it. Every field is `None` or empty when the message
/// does not carry it (or cannot be parsed): the raw bytes in [`crate::Received`] stay the truth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `Message-ID` without its angle brackets.
    pub message_id: Option<String>,
    /// `Subject`, decoded (RFC 2047 encoded words).
    pub subject: Option<String>,
    pub from: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    /// The first text/plain body part, decoded; not an HTML part turned into text.
    pub text: Option<String>,
    /// The first text/html body part, decoded.
    pub html: Option<String>,
    /// Every header of the top level in order: its name as sent and its value unfolded
    /// (RFC 5322 section 2.2.3) and trimmed, not decoded.
    pub headers: Vec<(String, String)>,
}

/// One address of a header: `"Name" <address>` or a bare address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Parsed {
    pub(crate) fn from_raw(raw: &[u8]) -> Parsed {
        let Some(message) = MessageParser::default().parse(raw) else {
            return Parsed::default();
        };
        let text = message
            .text_bodies()
            .find(|part| {
                matches!(part.body, PartType::Text(_))
                    && part.content_type().is_none_or(|content_type| {
                        content_type.ctype().eq_ignore_ascii_case("text")
                            && content_type
                                .subtype()
                                .is_none_or(|subtype| subtype.eq_ignore_ascii_case("plain"))
                    })
            })
            .and_then(|part| part.text_contents())
            .map(str::to_owned);
        let html = message
            .html_bodies()
            .find(|part| matches!(part.body, PartType::Html(_)))
            .and_then(|part| part.text_contents())
            .map(str::to_owned);
        Parsed {
            message_id: message.message_id().map(str::to_owned),
            subject: message.subject().map(str::to_owned),
            from: mailboxes(message.from()),
            to: mailboxes(message.to()),
            reply_to: mailboxes(message.reply_to()),
            text,
            html,
            headers: message
                .headers_raw()
                .map(|(name, value)| (name.to_owned(), unfold(value)))
                .collect(),
        }
    }

    /// The first header called `name` (in any case), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The addresses of `To`, without names.
    pub fn to_addresses(&self) -> Vec<&str> {
        self.to
            .iter()
            .map(|mailbox| mailbox.address.as_str())
            .collect()
    }
}

fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    address
        .map(|address| {
            address
                .iter()
                .filter_map(|addr| {
                    Some(Mailbox {
                        name: addr.name().map(str::to_owned),
                        address: addr.address()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn unfold(value: &str) -> String {
    value
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_only_message_has_no_text_body() {
        let parsed = Parsed::from_raw(
            b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n",
        );
        assert_eq!(parsed.text, None);
        assert_eq!(parsed.html.as_deref(), Some("<p>hi</p>\r\n"));
    }

    #[test]
    fn a_plain_message_has_its_headers_and_text() {
        let parsed = Parsed::from_raw(
            b"From: \"Ann\" <ann@example.com>\r\nTo: b@example.com, c@example.com\r\n\
              Subject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <1@x.test>\r\nX-Long: one\r\n two\r\n\r\nbody\r\n",
        );
        assert_eq!(parsed.subject.as_deref(), Some("café"));
        assert_eq!(parsed.message_id.as_deref(), Some("1@x.test"));
        assert_eq!(
            parsed.from,
            [Mailbox {
                name: Some("Ann".into()),
                address: "ann@example.com".into()
            }]
        );
        assert_eq!(parsed.to_addresses(), ["b@example.com", "c@example.com"]);
        assert_eq!(parsed.header("x-long"), Some("one two"));
        assert_eq!(parsed.text.as_deref(), Some("body\r\n"));
        assert_eq!(parsed.html, None);
    }
}
