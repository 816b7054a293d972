//! Serving a router on a listener with the limits an open port needs (docs/security.md):
//!
//! - a connection must finish its request headers within `header_read_timeout` (also the time
//!   an idle keep-alive connection is kept), so half-sent requests cannot pile up;
//! - a request body must keep arriving: no gap between its chunks longer than
//!   `body_read_timeout` (a body declared and never sent is cut off);
//! - and it must arrive whole within `body_total_timeout` of the request reaching the router:
//!   the gap timeout alone lets a client sending one byte every 29 s hold a connection for
//!   days, and enough of them fill `max_connections`;
//! - every request is answered within `request_timeout`, whatever it waits for;
//! - at most `max_connections` connections are served at once; past that, new connections wait
//!   in the kernel's backlog until one closes.
//!
//! Each request carries the peer's address as axum's `ConnectInfo<SocketAddr>`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// The per-connection limits of a listener.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub body_total_timeout: Duration,
    pub max_connections: usize,
    /// The longest a request may take, body included ([`crate::routes::deadline`]).
    pub request_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (idle connections are closed at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Both fail a body read with tower-http's `TimeoutError`, so the handler answers the same
    // way whichever fires (the webhook route a 400) and hyper closes the connection, whose
    // body was never read to its end.
    let router = router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_read_timeout,
        ))
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(
            limits.body_total_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            crate::routes::deadline::enforce,
        ));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let mut warned_full_at: Option<tokio::time::Instant> = None;
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("the connection limit closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if slots.available_permits() == 0
            && warned_full_at.is_none_or(|at| at.elapsed() > Duration::from_secs(60))
        {
            warned_full_at = Some(tokio::time::Instant::now());
            tracing::warn!(
                max_connections = limits.max_connections,
                "every connection slot is taken; new connections wait (http.max_connections)"
            );
        }
        if let Err(e) = stream.set_nodelay(true) {
            // Small responses must not wait for delayed ACKs (Nagle adds ~40 ms to a tail).
            tracing::warn!(error = %e, "failed to set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, malformed request): nothing to do.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
