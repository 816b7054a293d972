//! The accept loop: each connection gets its own task, so many clients are served at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::SinkConfig;
use crate::control::SinkControl;
use crate::session;

/// Serves until the task running it is aborted, which also aborts every open connection
/// (they live in the `JoinSet`, which aborts its tasks when dropped).
pub(crate) async fn serve(listener: TcpListener, control: SinkControl, config: Arc<SinkConfig>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    control.connection_opened();
                    connections.spawn(session::serve(stream, control.clone(), Arc::clone(&config)));
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "mail sink: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_finished) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
