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
//!   in the kernel's backlog until one closes;
//! - and at most `max_connections_per_client` of them come from one client (an IPv4 address,
//!   an IPv6 /64, as the token throttle counts: `routes::throttle::ClientKey`): one more from
//!   that client is answered 429 and closed at once. Without it, one address holding every
//!   slot with half-sent request heads locks everyone else out until `header_read_timeout`
//!   frees them (1,100 heads from one address did, for 24 s, at the shipped limits). The
//!   client is the TCP peer: behind a reverse proxy that is the proxy, so the cap is off when
//!   `http.client_ip_header` says there is one (docs/security.md, "Connection limits").
//!
//! Each request carries the peer's address as axum's `ConnectInfo<SocketAddr>`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
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

use crate::routes::throttle::ClientKey;

/// The per-connection limits of a listener.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub body_total_timeout: Duration,
    pub max_connections: usize,
    /// The longest a request may take, body included ([`crate::routes::deadline`]).
    pub request_timeout: Duration,
    /// Connections one client may hold at once (`None`: no cap of its own).
    pub max_connections_per_client: Option<usize>,
}

/// What a connection over its client's cap is told before it is closed: there is no request to
/// answer yet, but a client (or a person with curl) learns why.
const TOO_MANY_FROM_CLIENT: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\
Content-Length: 0\r\nConnection: close\r\n\r\n";

/// Connections open per client, for `max_connections_per_client`.
struct PerClient {
    cap: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One client's open connection, counted until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    key: ClientKey,
}

impl PerClient {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, usize>> {
        // Only counters live under the lock: after a panic elsewhere, keep using them.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `ip`, or `None` when its client is at the cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let key = ClientKey::of(ip);
        let mut open = self.open();
        let count = open.entry(key).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            clients: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.open();
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
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
    let per_client = limits.max_connections_per_client.map(|cap| {
        Arc::new(PerClient {
            cap: cap.max(1),
            open: Mutex::default(),
        })
    });
    let mut warned_client_at: Option<tokio::time::Instant> = None;
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
        let client_slot = match &per_client {
            Some(clients) => match clients.admit(peer.ip()) {
                Some(client_slot) => Some(client_slot),
                None => {
                    metrics::counter!("paylink_http_connections_refused_total").increment(1);
                    if warned_client_at.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                        warned_client_at = Some(tokio::time::Instant::now());
                        tracing::warn!(
                            client = %ClientKey::of(peer.ip()),
                            max_connections_per_client = clients.cap,
                            "a client holds its whole share of connections; its new ones are \
                             answered 429 and closed (http.max_connections_per_client; behind \
                             a proxy, set http.client_ip_header). Logged at most once a minute"
                        );
                    }
                    // Best effort, never waiting: the socket's send buffer is empty.
                    let _ = stream.try_write(TOO_MANY_FROM_CLIENT);
                    drop(stream);
                    continue;
                }
            },
            None => None,
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
            drop(client_slot);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
