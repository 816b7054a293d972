//! What the sink remembers: each accepted message, each refused recipient, each transaction
//! answered 421, and counters of everything.

use chrono::{DateTime, Utc};

use crate::parsed::Parsed;

/// One message the sink took in: the envelope, the bytes, and the parsed view.
#[derive(Clone, Debug)]
pub struct Received {
    /// The sink's own sequence number, from 1; the 250 reply says `queued as <id>`.
    pub id: u64,
    /// The envelope sender (MAIL FROM); empty for the null path `<>`.
    pub mail_from: String,
    /// The recipients the sink accepted (RCPT TO), in order; refused ones are not here.
    pub rcpt_to: Vec<String>,
    /// MAIL FROM's parameters as sent, keys upper-cased (`BODY=8BITMIME`, `SMTPUTF8`, `SIZE=…`).
    pub mail_params: Vec<String>,
    /// The name the client gave in EHLO or HELO.
    pub helo: String,
    /// The user the client authenticated as, if it did (any credentials are accepted).
    pub auth_user: Option<String>,
    /// The message as received: dot-unstuffed, ending with CRLF, without the final dot.
    pub raw: Vec<u8>,
    pub received_at: DateTime<Utc>,
    /// The connection was dropped after the final dot instead of replying (see
    /// [`crate::SinkControl::drop_after_data_next`]): the sender could not know it arrived.
    pub reply_lost: bool,
    pub parsed: Parsed,
}

impl Received {
    /// Whether the envelope names `address` as a recipient (ASCII case ignored).
    pub fn is_to(&self, address: &str) -> bool {
        self.rcpt_to
            .iter()
            .any(|rcpt| rcpt.eq_ignore_ascii_case(address))
    }

    /// The raw message as text (invalid UTF-8 replaced).
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// A recipient answered `550 5.1.1` because it was on the refused list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub mail_from: String,
    pub rcpt: String,
    pub at: DateTime<Utc>,
}

/// A transaction answered `421 4.7.0 try again later` at MAIL FROM (the connection then closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deferral {
    pub mail_from: String,
    pub at: DateTime<Utc>,
}

/// Counters since the sink started ([`crate::SinkControl::clear`] does not reset them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Messages recorded (including those whose reply was dropped).
    pub messages: u64,
    /// RCPTs answered 550 because the recipient was refused.
    pub refused_recipients: u64,
    /// Transactions answered 421 at MAIL FROM.
    pub deferred_transactions: u64,
    /// Messages recorded whose connection was then dropped without a reply.
    pub dropped_after_data: u64,
    /// Messages whose reply waited for the artificial delay.
    pub delayed_messages: u64,
    /// Messages refused with 552 for passing the size limit (not recorded).
    pub oversized_messages: u64,
    /// Successful AUTH exchanges.
    pub authentications: u64,
}
