//! The mail sink: a real SMTP server (RFC 5321) on loopback that records every message it
//! accepts, for paylink's tests and `paylink demo`. It shares no code with paylink (it depends on
//! none of paylink's crates), so it cannot agree with paylink's mistakes: paylink's mailer and
//! the sink meet only over SMTP.
//!
//! [`MailSink::start`] runs one; its [`SinkControl`] (also reached through the sink itself)
//! changes how it misbehaves while it runs (refused recipients, 421s, replies lost after DATA,
//! slow replies) and reads back what it received. docs/mail-sink.md says how to use it.

mod auth;
mod command;
mod config;
mod control;
mod lines;
mod parsed;
mod records;
mod server;
mod session;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::SinkConfig;
pub use control::SinkControl;
pub use parsed::{Mailbox, Parsed};
pub use records::{Deferral, Received, Refusal, SinkStats};

/// A running sink. Dropping it (or [`MailSink::shutdown`]) stops it and closes its connections.
/// It dereferences to its [`SinkControl`].
pub struct MailSink {
    addr: SocketAddr,
    control: SinkControl,
    task: Option<JoinHandle<()>>,
}

impl MailSink {
    /// Binds `config.addr` and serves on a task of the current tokio runtime.
    pub async fn start(config: SinkConfig) -> anyhow::Result<MailSink> {
        let (listener, control, config) = bind(config).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(server::serve(listener, control.clone(), config));
        Ok(MailSink {
            addr,
            control,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, which lettre's `from_url` takes without TLS.
    pub fn smtp_url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// A cloneable handle on the controls and records; after the sink stops it still reads
    /// what was recorded.
    pub fn control(&self) -> SinkControl {
        self.control.clone()
    }

    /// Stops the sink and waits until its port and connections are closed.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _cancelled = task.await;
        }
    }
}

impl Deref for MailSink {
    type Target = SinkControl;

    fn deref(&self) -> &SinkControl {
        &self.control
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `config.addr` and serves until the returned future is dropped, calling `ready` with
/// the bound address and the sink's controls first: for a command that runs a sink by itself.
pub async fn run(
    config: SinkConfig,
    ready: impl FnOnce(SocketAddr, SinkControl),
) -> anyhow::Result<()> {
    let (listener, control, config) = bind(config).await?;
    ready(listener.local_addr()?, control.clone());
    server::serve(listener, control, config).await;
    Ok(())
}

async fn bind(config: SinkConfig) -> anyhow::Result<(TcpListener, SinkControl, Arc<SinkConfig>)> {
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("failed to bind the mail sink to {}", config.addr))?;
    Ok((listener, SinkControl::new(), Arc::new(config)))
}
