//! The AUTH exchange (RFC 4954): the challenges and the client's answers; crate::auth decodes
//! them.

use std::io;

use tokio::io::AsyncWriteExt;

use super::{Flow, MAX_COMMAND_LINE, Session};
use crate::auth::{self, BadResponse};
use crate::lines::{self, CommandLine};

/// What the client answered to an AUTH challenge.
enum Answer {
    Text(String),
    Cancelled,
    Unreadable,
    Closed,
}

impl Session {
    pub(super) async fn auth(
        &mut self,
        mechanism: &str,
        initial: Option<String>,
    ) -> io::Result<Flow> {
        if !self.greeting.as_ref().is_some_and(|g| g.extended) {
            return self.reply("503 5.5.1 AUTH needs EHLO").await;
        }
        if self.auth_user.is_some() {
            return self.reply("503 5.5.1 already authenticated").await;
        }
        if self.transaction.is_some() {
            return self
                .reply("503 5.5.1 AUTH not allowed during a mail transaction")
                .await;
        }
        let user = match mechanism {
            "PLAIN" => {
                let response = match initial {
                    Some(response) => Answer::Text(response),
                    None => self.challenge("334 ").await?,
                };
                match response {
                    Answer::Text(response) => auth::plain_user(&response),
                    other => return self.auth_failed(other).await,
                }
            }
            "LOGIN" => {
                let response = match initial {
                    Some(response) => Answer::Text(response),
                    None => {
                        self.challenge(&format!("334 {}", auth::LOGIN_USERNAME))
                            .await?
                    }
                };
                let user = match response {
                    Answer::Text(response) => auth::login_user(&response),
                    other => return self.auth_failed(other).await,
                };
                let password = self
                    .challenge(&format!("334 {}", auth::LOGIN_PASSWORD))
                    .await?;
                match password {
                    Answer::Text(password) => auth::decode(&password).and(user),
                    other => return self.auth_failed(other).await,
                }
            }
            _ => {
                return self
                    .reply("504 5.5.4 unrecognized authentication type")
                    .await;
            }
        };
        match user {
            Ok(user) => {
                self.auth_user = Some(user);
                self.control.authenticated();
                self.reply("235 2.7.0 Authentication successful").await
            }
            Err(BadResponse(text)) => self.reply(&format!("501 {text}")).await,
        }
    }

    async fn challenge(&mut self, challenge: &str) -> io::Result<Answer> {
        self.reply(challenge).await?;
        self.writer.flush().await?;
        let line = tokio::time::timeout(
            self.config.idle_timeout,
            lines::read_command(&mut self.reader, MAX_COMMAND_LINE),
        )
        .await;
        Ok(match line {
            Err(_elapsed) => Answer::Closed,
            Ok(line) => match line? {
                CommandLine::Line(line) if line == "*" => Answer::Cancelled,
                CommandLine::Line(line) => Answer::Text(line),
                CommandLine::TooLong | CommandLine::NotText => Answer::Unreadable,
                CommandLine::Closed => Answer::Closed,
            },
        })
    }

    async fn auth_failed(&mut self, answer: Answer) -> io::Result<Flow> {
        match answer {
            Answer::Cancelled => self.reply("501 5.0.0 authentication cancelled").await,
            Answer::Closed => Ok(Flow::Close),
            Answer::Text(_) | Answer::Unreadable => {
                self.reply("501 5.5.2 cannot read the response").await
            }
        }
    }
}
