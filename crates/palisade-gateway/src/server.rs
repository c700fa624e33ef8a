//! The HTTP listener shared by the data plane and the admin plane: HTTP/1.1 and HTTP/2,
//! optional TLS (rustls), bounded request headers, a header-read timeout against slow
//! clients (the TLS handshake is bounded by the same timeout), an idle timeout for
//! connections with nothing in flight ([`crate::idle`]), bounds on open connections
//! (per client address and in all), the peer address on every
//! request, and graceful shutdown (stop accepting, let in-flight requests finish within
//! the grace period).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::abuse::{ConnectionSlot, ConnectionSlots};
use crate::forwarded;
use crate::idle::{Activity, IdleIo, InFlight};

/// Transport settings of one listener.
#[derive(Clone)]
pub struct ListenerLimits {
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no traffic for this long is closed.
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
    pub tls: Option<TlsAcceptor>,
    pub max_connections_per_ip: usize,
    /// Proxies exempt from `max_connections_per_ip` (a load balancer carries everyone's
    /// connections; `max_connections` still bounds them), and whose `X-Forwarded-For`
    /// names the client each request's `ConnectInfo` carries ([`crate::forwarded`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Open connections from all clients together; beyond it, new ones are closed at once
    /// (before the process runs out of file descriptors).
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains: connections
/// get the grace period to finish, unless `cut` resolves first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()>,
    cut: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // RFC 9113's recommended floor (hyper's default is 200): each stream is a request
        // whose body is read and parsed before a rate limit can refuse it.
        .max_concurrent_streams(100);
    let graceful = GracefulShutdown::new();
    let slots = ConnectionSlots::new(limits.max_connections_per_ip);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    // Open connections, so those still open when the grace period ends can be cut (their
    // streams then record on their way out) rather than left running unowned.
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
                    tracing::debug!("connection limit reached (server.max_connections)");
                    continue;
                };
                let proxy = forwarded::is_trusted(&limits.trusted_proxies, peer.ip());
                let slot = if proxy { None } else { slots.acquire(peer.ip()) };
                if slot.is_none() && !proxy {
                    tracing::debug!(client = %peer.ip(), "too many connections from one address");
                    continue;
                }
                let _ = stream.set_nodelay(true);
                connections.spawn(connection((permit, slot), stream, peer, router.clone(), builder.clone(), limits.clone(), graceful.watcher()));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(open = connections.len(), "shutdown grace period ended with connections still open: closing them");
        }
        () = cut => {
            tracing::warn!(open = connections.len(), "closing the open connections now");
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// One connection: TLS handshake if configured (bounded in time), then HTTP.
async fn connection(
    _held: (OwnedSemaphorePermit, Option<ConnectionSlot>),
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    limits: ListenerLimits,
    watcher: Watcher,
) {
    match &limits.tls {
        None => http(stream, peer, router, &builder, &limits, watcher).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    http(tls, peer, router, &builder, &limits, watcher).await;
                }
                Ok(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn http<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    builder: &auto::Builder<TokioExecutor>,
    limits: &ListenerLimits,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let trusted: Arc<[ipnet::IpNet]> = limits.trusted_proxies.clone().into();
    let svc = tower::service_fn({
        let activity = Arc::clone(&activity);
        move |mut req: hyper::Request<Incoming>| {
            let in_flight = InFlight::new(&activity);
            // The client, for both planes: the peer, or whom its trusted proxies name.
            let client = forwarded::client_addr(peer, req.headers(), &trusted);
            req.extensions_mut().insert(ConnectInfo(client));
            let router = router.clone();
            async move {
                let resp = router.oneshot(req).await?;
                Ok::<_, Infallible>(resp.map(|body| in_flight.hold(body)))
            }
        }
    });
    let io = IdleIo::new(io, activity, limits.idle_timeout);
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(svc));
    if let Err(err) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
