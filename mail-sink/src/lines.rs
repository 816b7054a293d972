//! Reading the client's bytes a line at a time without letting one line take unbounded memory,
//! and reading a message after DATA: dot-unstuffing, ending only at CRLF.CRLF.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Appends to `line` up to and including the next LF, or until `line` holds `max` bytes.
/// Returns how many bytes were appended: 0 only at the end of the stream.
pub(crate) async fn read_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut appended = 0;
    while line.len() < max {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let room = (max - line.len()).min(available.len());
        let (taken, complete) = match available[..room].iter().position(|&b| b == b'\n') {
            Some(lf) => (lf + 1, true),
            None => (room, false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        appended += taken;
        if complete {
            break;
        }
    }
    Ok(appended)
}

/// One command line.
pub(crate) enum CommandLine {
    /// The line without its CRLF (or bare LF, tolerated on command lines).
    Line(String),
    /// Longer than the limit; the rest of it was read and thrown away.
    TooLong,
    /// Not valid UTF-8.
    NotText,
    /// The client closed the connection (a partial last line is dropped).
    Closed,
}

pub(crate) async fn read_command<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<CommandLine> {
    let mut line = Vec::new();
    read_bounded(reader, &mut line, max).await?;
    if !line.ends_with(b"\n") {
        if line.len() < max {
            return Ok(CommandLine::Closed);
        }
        loop {
            let mut rest = Vec::new();
            if read_bounded(reader, &mut rest, max).await? == 0 {
                return Ok(CommandLine::Closed);
            }
            if rest.ends_with(b"\n") {
                return Ok(CommandLine::TooLong);
            }
        }
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(match String::from_utf8(line) {
        Ok(line) => CommandLine::Line(line),
        Err(_) => CommandLine::NotText,
    })
}

/// What came after `354`.
pub(crate) enum Message {
    /// Ended by CRLF.CRLF: the content unstuffed, with its last CRLF, without the final dot.
    /// `too_big` when it passed the limit: the content is then cut, and must be refused.
    Complete { content: Vec<u8>, too_big: bool },
    /// The client closed the connection before the end.
    Closed,
}

/// Reads the message text after DATA's 354 (RFC 5321 section 4.5.2): a line that begins with a
/// dot loses that dot, and only a lone dot between two CRLFs ends the message (a dot after a
/// bare LF, or before one, is content: no smuggling of a second message).
pub(crate) async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_size: usize,
) -> std::io::Result<Message> {
    const CHUNK: usize = 64 * 1024;
    let mut content = Vec::new();
    let mut too_big = false;
    let mut chunk = Vec::with_capacity(CHUNK);
    // The DATA line itself ended the previous line.
    let mut at_line_start = true;
    let mut after_crlf = true;
    let mut last_byte = b'\n';
    loop {
        chunk.clear();
        if read_bounded(reader, &mut chunk, CHUNK).await? == 0 {
            return Ok(Message::Closed);
        }
        if at_line_start && after_crlf && chunk == b".\r\n" {
            return Ok(Message::Complete { content, too_big });
        }
        let text = match chunk.strip_prefix(b".") {
            Some(unstuffed) if at_line_start => unstuffed,
            _ => &chunk[..],
        };
        if !too_big && content.len() + text.len() <= max_size {
            content.extend_from_slice(text);
        } else {
            too_big = true;
        }
        let ends_line = chunk.ends_with(b"\n");
        if ends_line {
            let before_lf = if chunk.len() >= 2 {
                chunk[chunk.len() - 2]
            } else {
                last_byte
            };
            after_crlf = before_lf == b'\r';
        }
        at_line_start = ends_line;
        last_byte = chunk[chunk.len() - 1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn message(wire: &[u8]) -> Option<Vec<u8>> {
        let mut reader = wire;
        match read_message(&mut reader, 1 << 20).await.ok()? {
            Message::Complete { content, too_big } => {
                assert!(!too_big);
                Some(content)
            }
            Message::Closed => None,
        }
    }

    #[tokio::test]
    async fn a_message_ends_at_crlf_dot_crlf_and_loses_stuffed_dots() {
        assert_eq!(
            message(b"a\r\n..b\r\n.\r\nNEXT").await.as_deref(),
            Some(&b"a\r\n.b\r\n"[..])
        );
        assert_eq!(message(b".\r\n").await.as_deref(), Some(&b""[..]));
        // A lone dot after a bare LF, or followed by one, is content, not the end.
        assert_eq!(
            message(b"a\n.\r\nb\r\n.\n\r\n.\r\n").await.as_deref(),
            Some(&b"a\n\r\nb\r\n\n\r\n"[..])
        );
        assert_eq!(message(b"a\r\nno end\r\n").await, None);
    }

    #[tokio::test]
    async fn long_lines_are_read_across_chunks_without_unstuffing_their_middle() {
        let mut wire = vec![b'x'; 64 * 1024 - 1];
        wire.extend_from_slice(b".y\r\n.\r\n");
        let mut expected = vec![b'x'; 64 * 1024 - 1];
        expected.extend_from_slice(b".y\r\n");
        assert_eq!(message(&wire).await, Some(expected));
    }

    #[tokio::test]
    async fn a_message_past_the_limit_is_read_to_its_end_and_marked() {
        let mut reader = &b"0123456789\r\n.\r\nQUIT\r\n"[..];
        match read_message(&mut reader, 5).await.ok() {
            Some(Message::Complete { too_big, .. }) => assert!(too_big),
            _ => panic!("the message should have ended"),
        }
        assert_eq!(reader, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn command_lines_are_bounded() {
        let mut reader = &b"NOOP\r\nHELO x\nxxxxxxxxxxxxxxxxxxxxxxx\r\nQUIT"[..];
        assert!(
            matches!(read_command(&mut reader, 16).await.ok(), Some(CommandLine::Line(l)) if l == "NOOP")
        );
        assert!(
            matches!(read_command(&mut reader, 16).await.ok(), Some(CommandLine::Line(l)) if l == "HELO x")
        );
        assert!(matches!(
            read_command(&mut reader, 16).await.ok(),
            Some(CommandLine::TooLong)
        ));
        assert!(matches!(
            read_command(&mut reader, 16).await.ok(),
            Some(CommandLine::Closed)
        ));
    }
}
