//! A bare SMTP client: writes exactly what a test gives it and reads replies as sent.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const WAIT: Duration = Duration::from_secs(5);

/// One reply: its code and the text of each line after the code.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Raw {
    /// Connects and reads the greeting, which must be 220.
    pub async fn connect(sink: &mail_sink::MailSink) -> Raw {
        let stream = TcpStream::connect(sink.addr()).await.expect("connects");
        let (read, writer) = stream.into_split();
        let mut raw = Raw {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = raw.reply().await;
        assert_eq!(greeting.code, 220, "{greeting:?}");
        raw
    }

    /// Connects, then EHLO.
    pub async fn greeted(sink: &mail_sink::MailSink) -> Raw {
        let mut raw = Raw::connect(sink).await;
        raw.expect("EHLO client.test", 250).await;
        raw
    }

    pub async fn send(&mut self, bytes: &str) {
        self.writer
            .write_all(bytes.as_bytes())
            .await
            .expect("the sink reads");
    }

    /// Reads one whole reply (its `NNN-` lines and the final `NNN ` line).
    pub async fn reply(&mut self) -> Reply {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
                .await
                .expect("a reply within the wait")
                .expect("the reply reads");
            assert!(read > 0, "the connection closed; replies so far: {lines:?}");
            assert!(
                line.ends_with("\r\n"),
                "a reply line ends with CRLF: {line:?}"
            );
            let code: u16 = line[..3].parse().expect("a three-digit code");
            let last = &line[3..4] == " ";
            lines.push(line[4..].trim_end().to_owned());
            if last {
                return Reply { code, lines };
            }
        }
    }

    /// Sends one command line and reads its reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Sends one command line; its reply must have `code`.
    pub async fn expect(&mut self, line: &str, code: u16) -> Reply {
        let reply = self.command(line).await;
        assert_eq!(reply.code, code, "{line} → {reply:?}");
        reply
    }

    /// Whether the sink closes the connection without sending anything more.
    pub async fn closed_silently(&mut self) -> bool {
        let mut rest = Vec::new();
        match tokio::time::timeout(WAIT, self.reader.read_to_end(&mut rest)).await {
            Ok(Ok(_)) => rest.is_empty(),
            Ok(Err(_reset)) => rest.is_empty(),
            Err(_still_open) => false,
        }
    }
}
