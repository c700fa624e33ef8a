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
use axum::response::IntoResponse;
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
use crate::error::GatewayError;
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
        // Room above the limit, so that headers a little over it reach `headers_size` and
        // get an OpenAI-style 431 (hyper answers a request that overflows its buffer with
        // a bare 431 and no body).
        .max_buf_size(header_buffer(limits.max_header_bytes))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(
            u32::try_from(header_buffer(limits.max_header_bytes)).unwrap_or(u32::MAX),
        )
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
        let max_header_bytes = limits.max_header_bytes;
        move |mut req: hyper::Request<Incoming>| {
            let in_flight = InFlight::new(&activity);
            if headers_size(&req) > max_header_bytes {
                let refused = GatewayError::HeadersTooLarge {
                    limit: max_header_bytes,
                };
                let resp = refused.into_response();
                return futures::future::Either::Left(std::future::ready(Ok::<_, Infallible>(
                    resp.map(|body| in_flight.hold(body)),
                )));
            }
            // The client, for both planes: the peer, or whom its trusted proxies name.
            let client = forwarded::client_addr(peer, req.headers(), &trusted);
            req.extensions_mut().insert(ConnectInfo(client));
            let router = router.clone();
            futures::future::Either::Right(async move {
                let resp = router.oneshot(req).await?;
                Ok::<_, Infallible>(resp.map(|body| in_flight.hold(body)))
            })
        }
    });
    let io = IdleIo::new(io, activity, limits.idle_timeout);
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(svc));
    if let Err(err) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// The read buffer (HTTP/1) and header list (HTTP/2) hyper allows: twice the limit, at
/// least 8 KB. Between the limit and this, [`headers_size`] refuses with a JSON body.
fn header_buffer(max_header_bytes: usize) -> usize {
    max_header_bytes.saturating_mul(2).max(8192)
}

/// A request's header section as counted against `server.max_header_bytes`: the request
/// line, and each field's name and value with its four bytes of separators (`: `, CRLF).
fn headers_size<B>(req: &hyper::Request<B>) -> usize {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(1, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    // `METHOD target HTTP/1.1\r\n`
    let line = req.method().as_str().len() + target + 12;
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .fold(line, usize::saturating_add)
}
