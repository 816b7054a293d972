//! One mail transaction (RFC 5321 section 3.3): MAIL FROM and its parameters, RCPT TO, DATA and
//! the message; the controls' refusals, 421s, delays and dropped replies happen here.

use std::io;

use chrono::Utc;
use tokio::io::AsyncWriteExt;

use super::{Flow, Session};
use crate::command::PathArgument;
use crate::lines::{self, Message};
use crate::parsed::Parsed;
use crate::records::Received;

/// The transaction under way: MAIL FROM given, RCPTs being added.
pub(super) struct Transaction {
    mail_from: String,
    params: Vec<String>,
    smtputf8: bool,
    rcpt_to: Vec<String>,
}

impl Session {
    pub(super) async fn mail(&mut self, argument: PathArgument) -> io::Result<Flow> {
        let Some(greeting) = &self.greeting else {
            return self.reply("503 5.5.1 send EHLO or HELO first").await;
        };
        if self.transaction.is_some() {
            return self.reply("503 5.5.1 nested MAIL command").await;
        }
        let extended = greeting.extended;
        let mut smtputf8 = false;
        for param in &argument.params {
            let refusal = if !extended {
                Some("555 5.5.4 MAIL parameters need EHLO".to_owned())
            } else {
                match (param.key.as_str(), param.value.as_deref()) {
                    ("SIZE", Some(size)) => match size.parse::<usize>() {
                        Ok(size) if size > self.config.max_message_size => {
                            Some("552 5.3.4 message size exceeds fixed maximum".to_owned())
                        }
                        Ok(_) => None,
                        Err(_) => Some("501 5.5.4 bad SIZE".to_owned()),
                    },
                    ("BODY", Some(body))
                        if body.eq_ignore_ascii_case("7BIT")
                            || body.eq_ignore_ascii_case("8BITMIME") =>
                    {
                        None
                    }
                    ("SMTPUTF8", None) => {
                        smtputf8 = true;
                        None
                    }
                    // RFC 4954 section 5: the submitter's identity, which a sink may ignore.
                    ("AUTH", Some(_)) => None,
                    (key, _) => Some(format!("555 5.5.4 unsupported MAIL parameter {key}")),
                }
            };
            if let Some(refusal) = refusal {
                return self.reply(&refusal).await;
            }
        }
        if !smtputf8 && !argument.mailbox.is_ascii() {
            return self
                .reply("553 5.6.7 a non-ASCII address needs SMTPUTF8")
                .await;
        }
        if self.control.take_deferral(&argument.mailbox) {
            self.reply("421 4.7.0 try again later").await?;
            return Ok(Flow::Close);
        }
        self.transaction = Some(Transaction {
            mail_from: argument.mailbox,
            params: argument.params.iter().map(|p| p.to_wire()).collect(),
            smtputf8,
            rcpt_to: Vec::new(),
        });
        self.reply("250 2.1.0 Ok").await
    }

    pub(super) async fn rcpt(&mut self, argument: PathArgument) -> io::Result<Flow> {
        let Some(transaction) = &self.transaction else {
            return self.reply("503 5.5.1 need MAIL before RCPT").await;
        };
        let refusal = if let Some(param) = argument.params.first() {
            Some(format!(
                "555 5.5.4 unsupported RCPT parameter {}",
                param.key
            ))
        } else if argument.mailbox.is_empty() {
            Some("501 5.1.3 a recipient cannot be the null path".to_owned())
        } else if !transaction.smtputf8 && !argument.mailbox.is_ascii() {
            Some("553 5.6.7 a non-ASCII address needs SMTPUTF8".to_owned())
        } else if transaction.rcpt_to.len() >= self.config.max_recipients {
            Some("452 4.5.3 too many recipients".to_owned())
        } else if self
            .control
            .refuses(&transaction.mail_from, &argument.mailbox)
        {
            Some(format!(
                "550 5.1.1 <{}>: mailbox unavailable",
                argument.mailbox
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return self.reply(&refusal).await;
        }
        if let Some(transaction) = &mut self.transaction {
            transaction.rcpt_to.push(argument.mailbox);
        }
        self.reply("250 2.1.5 Ok").await
    }

    pub(super) async fn data(&mut self, argument: &str) -> io::Result<Flow> {
        if !argument.is_empty() {
            return self.reply("501 5.5.4 DATA takes no argument").await;
        }
        // Whatever follows the 354, this transaction is over.
        let transaction = match self.transaction.take() {
            None => return self.reply("503 5.5.1 need MAIL and RCPT before DATA").await,
            Some(transaction) if transaction.rcpt_to.is_empty() => {
                self.transaction = Some(transaction);
                return self.reply("554 5.5.1 no valid recipients").await;
            }
            Some(transaction) => transaction,
        };
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        self.writer.flush().await?;
        let message = tokio::time::timeout(
            self.config.idle_timeout,
            lines::read_message(&mut self.reader, self.config.max_message_size),
        )
        .await;
        let (content, too_big) = match message {
            Err(_elapsed) => {
                self.reply("421 4.4.2 idle for too long, closing").await?;
                return Ok(Flow::Close);
            }
            Ok(message) => match message? {
                Message::Closed => return Ok(Flow::Close),
                Message::Complete { content, too_big } => (content, too_big),
            },
        };
        if too_big {
            self.control.oversized();
            return self.reply("552 5.3.4 message too big").await;
        }
        let received = Received {
            id: 0,
            mail_from: transaction.mail_from,
            rcpt_to: transaction.rcpt_to,
            mail_params: transaction.params,
            helo: self
                .greeting
                .as_ref()
                .map(|greeting| greeting.name.clone())
                .unwrap_or_default(),
            auth_user: self.auth_user.clone(),
            parsed: Parsed::from_raw(&content),
            raw: content,
            received_at: Utc::now(),
            reply_lost: false,
        };
        tracing::info!(
            from = %received.mail_from,
            to = ?received.rcpt_to,
            subject = received.parsed.subject.as_deref().unwrap_or(""),
            "mail sink: message received"
        );
        let after = self.control.record(received);
        if !after.delay.is_zero() {
            tokio::time::sleep(after.delay).await;
        }
        if after.drop_connection {
            return Ok(Flow::Close);
        }
        self.reply(&format!("250 2.0.0 Ok: queued as {}", after.id))
            .await
    }
}
