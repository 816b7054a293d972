//! One SMTP connection, as RFC 5321 has a server hold it: the greeting, EHLO or HELO, any number
//! of transactions (MAIL, RCPT…, DATA), and the controls' misbehaviour at their points.
//!
//! Pipelining (RFC 2920): commands are answered in order, and replies are held back only while
//! more of the client's bytes are already buffered, so a pipelined group gets its replies
//! together and a client that waits is never left waiting.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::command::{Command, SyntaxError};
use crate::config::SinkConfig;
use crate::control::SinkControl;
use crate::lines::{self, CommandLine};

mod auth_exchange;
mod transaction;

use transaction::Transaction;

/// RFC 5321 allows 512 octets for a command line; extensions (AUTH's initial response) need
/// more, and RFC 4954 suggests 12288 for AUTH.
const MAX_COMMAND_LINE: usize = 12288;

/// How long a closing session reads what the client still sends before letting go.
const LINGER: Duration = Duration::from_secs(1);

pub(crate) async fn serve(stream: TcpStream, control: SinkControl, config: Arc<SinkConfig>) {
    let peer = stream.peer_addr().ok();
    let (read, write) = stream.into_split();
    let mut session = Session {
        reader: BufReader::new(read),
        writer: BufWriter::new(write),
        control,
        config,
        greeting: None,
        auth_user: None,
        transaction: None,
    };
    if let Err(error) = session.run().await {
        tracing::debug!(?peer, %error, "mail sink: connection ended");
    }
}

struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    control: SinkControl,
    config: Arc<SinkConfig>,
    greeting: Option<Greeting>,
    auth_user: Option<String>,
    transaction: Option<Transaction>,
}

struct Greeting {
    /// The name the client gave.
    name: String,
    /// EHLO rather than HELO: extensions may be used.
    extended: bool,
}

enum Flow {
    Continue,
    Close,
}

impl Session {
    async fn run(&mut self) -> io::Result<()> {
        let greeting = format!("220 {} ESMTP mail-sink ready", self.config.hostname);
        self.reply(&greeting).await?;
        loop {
            if self.reader.buffer().is_empty() {
                self.writer.flush().await?;
            }
            let line = tokio::time::timeout(
                self.config.idle_timeout,
                lines::read_command(&mut self.reader, MAX_COMMAND_LINE),
            )
            .await;
            let flow = match line {
                Err(_elapsed) => {
                    self.reply("421 4.4.2 idle for too long, closing").await?;
                    Flow::Close
                }
                Ok(line) => match line? {
                    CommandLine::Closed => Flow::Close,
                    CommandLine::TooLong => self.reply("500 5.5.2 line too long").await?,
                    CommandLine::NotText => self.reply("500 5.5.2 command is not UTF-8").await?,
                    CommandLine::Line(line) => match Command::parse(&line) {
                        Ok(command) => self.handle(command).await?,
                        Err(SyntaxError(text)) => self.reply(&format!("501 {text}")).await?,
                    },
                },
            };
            if let Flow::Close = flow {
                break;
            }
        }
        self.close().await
    }

    /// Sends what is queued and closes: FIN first, then whatever the client had already
    /// pipelined is read and thrown away for a moment, so that closing with unread bytes does
    /// not reset the connection before the client has read the last reply (a 421, a 221).
    async fn close(&mut self) -> io::Result<()> {
        self.writer.flush().await?;
        self.writer.shutdown().await?;
        let drain = async {
            let mut scratch = [0u8; 4096];
            while matches!(self.reader.read(&mut scratch).await, Ok(read) if read > 0) {}
        };
        let _lingered = tokio::time::timeout(LINGER, drain).await;
        Ok(())
    }

    /// Queues one reply line; it is sent before the session next waits for the client.
    async fn reply(&mut self, line: &str) -> io::Result<Flow> {
        self.writer.write_all(line.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        Ok(Flow::Continue)
    }

    async fn handle(&mut self, command: Command) -> io::Result<Flow> {
        match command {
            Command::Ehlo(name) | Command::Helo(name) if name.is_empty() => {
                self.reply("501 5.5.4 give your domain name").await
            }
            Command::Ehlo(name) => self.ehlo(name).await,
            Command::Helo(name) => {
                self.transaction = None;
                self.greeting = Some(Greeting {
                    name,
                    extended: false,
                });
                let reply = format!("250 {}", self.config.hostname);
                self.reply(&reply).await
            }
            Command::Mail(argument) => self.mail(argument).await,
            Command::Rcpt(argument) => self.rcpt(argument).await,
            Command::Data(argument) => self.data(&argument).await,
            Command::Rset(argument) if !argument.is_empty() => {
                self.reply("501 5.5.4 RSET takes no argument").await
            }
            Command::Rset(_) => {
                self.transaction = None;
                self.reply("250 2.0.0 Ok").await
            }
            Command::Noop => self.reply("250 2.0.0 Ok").await,
            Command::Quit => {
                self.reply("221 2.0.0 Bye").await?;
                Ok(Flow::Close)
            }
            Command::Vrfy(argument) if argument.is_empty() => {
                self.reply("501 5.5.4 VRFY needs an address").await
            }
            Command::Vrfy(_) => {
                self.reply(
                    "252 2.5.2 cannot VRFY user, but will accept message and attempt delivery",
                )
                .await
            }
            Command::Expn => self.reply("502 5.5.1 EXPN not supported").await,
            Command::StartTls => self.reply("502 5.5.1 STARTTLS not supported").await,
            Command::Help => {
                self.reply("214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY AUTH HELP")
                    .await
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response).await,
            Command::Unknown => self.reply("500 5.5.2 command not recognized").await,
        }
    }

    async fn ehlo(&mut self, name: String) -> io::Result<Flow> {
        self.transaction = None;
        let lines = [
            format!("{} greets {name}", self.config.hostname),
            "PIPELINING".to_owned(),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
            format!("SIZE {}", self.config.max_message_size),
            "AUTH PLAIN LOGIN".to_owned(),
        ];
        self.greeting = Some(Greeting {
            name,
            extended: true,
        });
        for (index, line) in lines.iter().enumerate() {
            let separator = if index + 1 == lines.len() { ' ' } else { '-' };
            self.reply(&format!("250{separator}{line}")).await?;
        }
        Ok(Flow::Continue)
    }
}
