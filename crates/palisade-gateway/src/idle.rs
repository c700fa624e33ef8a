//! Idle connections. A connection with no request in flight that sends and receives
//! nothing for `server.idle_timeout_ms` is closed: before its first request (hyper's
//! header timeout only starts with the first byte, and an HTTP/2-or-1 connection waits
//! for that byte with no timeout at all), between keep-alive requests, and on an HTTP/2
//! connection with no open stream. Without it, a client opening connections and sending
//! nothing holds them — and the gateway's file descriptors — for ever.
//!
//! A request in flight keeps its connection, however long the model takes: [`InFlight`]
//! lives from the request's arrival until its response body is done (a stream's last
//! byte), and [`IdleIo`] only counts time while none is alive. Traffic that is not a
//! request (HTTP/2 PINGs) delays the close, but never beyond two idle timeouts after the
//! last request.
//!
//! A peer that stops reading is cut too: a write that stays pending for the idle timeout
//! fails the connection, request in flight or not — otherwise a client that never reads
//! its response holds the connection for ever. (A stream's relay has its own stall limit,
//! `pipeline::stream`, which also sees an HTTP/2 client that grants no window and so
//! never blocks a write.)

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests in flight on one connection, and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    opened: Instant,
    /// Milliseconds from `opened` to the end of the last request (0: none yet).
    quiet_since_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            opened: Instant::now(),
            quiet_since_ms: AtomicU64::new(0),
        }
    }
}

impl Activity {
    /// When a connection with no request in flight is closed whatever it sends:
    /// [`QUIET_LIMIT`] idle timeouts after its last request ended (or it opened).
    fn quiet_deadline(&self, timeout: Duration) -> Instant {
        let since = Duration::from_millis(self.quiet_since_ms.load(Ordering::Relaxed));
        self.opened + since + timeout * QUIET_LIMIT
    }
}

/// How many idle timeouts a connection may go without a request, traffic or not: frames
/// that are not requests (HTTP/2 PINGs, SETTINGS) would otherwise keep it open for ever.
/// Traffic extends the idle timeout up to this, so that a request arriving slowly near
/// the idle timeout is not cut.
const QUIET_LIMIT: u32 = 2;

/// One request in flight on its connection, from arrival to the end of its response body.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl InFlight {
    pub fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(activity))
    }

    /// `body`, holding the request in flight until it is sent or dropped.
    pub fn hold(self, body: Body) -> Body {
        Body::new(HeldBody {
            body,
            _in_flight: self,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let ms = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.0.quiet_since_ms.store(ms, Ordering::Relaxed);
        }
    }
}

struct HeldBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's transport, failing its reads with `TimedOut` once it has been idle
/// (no bytes either way, no request in flight) for the timeout.
pub struct IdleIo<I> {
    io: I,
    activity: Arc<Activity>,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Since a write first stayed pending (the peer stopped reading), when it fails.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<I> IdleIo<I> {
    pub fn new(io: I, activity: Arc<Activity>, timeout: Duration) -> IdleIo<I> {
        IdleIo {
            io,
            activity,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            stalled: None,
        }
    }

    /// Activity: the connection may idle for the timeout from now. The timer moves at
    /// most every half timeout (not on every read and write), so a connection is closed
    /// after between 1 and 1.5 timeouts of silence; with no request in flight, never
    /// past [`Activity::quiet_deadline`].
    fn touch(&mut self) {
        let now = Instant::now();
        if self.deadline.deadline() < now + self.timeout {
            let mut next = now + self.timeout + self.timeout / 2;
            if self.activity.in_flight.load(Ordering::Relaxed) == 0 {
                next = next.min(self.activity.quiet_deadline(self.timeout));
            }
            self.deadline.as_mut().reset(next);
        }
    }
}

impl<I> IdleIo<I> {
    /// A finished write (either way) is activity; a write pending for the timeout is a
    /// peer that stopped reading, and fails.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if written.is_ready() {
            self.stalled = None;
            self.touch();
            return written;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.touch();
                Poll::Ready(result)
            }
            Poll::Pending if this.activity.in_flight.load(Ordering::Relaxed) > 0 => {
                this.touch();
                Poll::Pending
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, data);
        this.after_write(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
