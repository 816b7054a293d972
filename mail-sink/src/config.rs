//! How a sink listens and what limits it announces.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A sink's address and limits. `SinkConfig::default()` listens on a free port of 127.0.0.1.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The name in the greeting and EHLO reply.
    pub hostname: String,
    /// The largest message accepted, announced as `SIZE`; larger ones get 552.
    pub max_message_size: usize,
    /// Recipients per transaction before `452 4.5.3` (RFC 5321 requires at least 100).
    pub max_recipients: usize,
    /// How long the sink waits for a command or for the message text before `421 4.4.2`
    /// and closing (RFC 5321 section 4.5.3.2.7 suggests 5 minutes).
    pub idle_timeout: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            hostname: "mail-sink.localhost".to_owned(),
            max_message_size: 10 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(300),
        }
    }
}
