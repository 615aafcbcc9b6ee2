//! Serves the router over HTTP/1.1 so that no client holds more than its
//! share of the connections:
//!
//! - At most `max_connections` are served at once. When one more is
//!   accepted, it waits for a place (later ones wait in the listen queue),
//!   and every open connection is told to close once idle: an idle
//!   keep-alive connection closes at once, a busy one after its current
//!   response, and one that has not been asked anything yet after its first
//!   answer (a client is never cut off before its first request). So
//!   keep-alive never keeps a place someone is waiting for: the waiting
//!   client is served within about one request's time, or within
//!   `header_timeout` when every place is taken by a connection that has
//!   yet to send its first request's headers.
//! - With `per_client` set, one client (an IPv4 address, an IPv4-mapped
//!   IPv6 address counted as that IPv4 address, an IPv6 /64) holds at most
//!   that many of them, waiting ones included. One more is closed as soon
//!   as it is accepted, before anything is read or written and without
//!   taking a place. Only clients that hold a connection are counted, so
//!   the counts take memory for open connections, not for every address
//!   ever seen.
//! - A request's headers must arrive within `header_timeout` of the server
//!   starting to wait for them (on a new connection, or after the previous
//!   answer: so this also bounds an idle keep-alive connection); its body
//!   within `body_timeout` of its headers; and a response the client does
//!   not take for `body_timeout` ends the connection.
//!
//! A connection's age and its number of requests are not capped: while
//! there are free places an old connection takes none from anybody, and
//! when there are none it lasts only until its current response ends.
//! Together these bound what slow, stalled or idle connections cost,
//! whatever their number. Bodies are read only by the handlers that want
//! them, after they checked who is sending (see [`read_body`]).

use std::collections::HashMap;
use std::future::Future as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// The largest request body a handler reads (Telegram's updates are far smaller).
pub(crate) const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// How many connections are served, in all and per client, and how long
/// a request may take to arrive and its response to be taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    /// Connections one client (an IPv4 address, an IPv6 /64) may hold at
    /// once; `None` behind a load balancer, where every connection is its.
    pub(crate) per_client: Option<usize>,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
}

/// Serves `router` on `listener` within `limits`; `ConnectInfo<SocketAddr>`
/// carries each request's peer.
pub(crate) async fn serve(listener: TcpListener, router: Router, limits: Limits) -> io::Result<()> {
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shares = limits.per_client.map(|per_client| Arc::new(Shares::new(per_client)));
    // Marked changed whenever an accepted connection finds no free place.
    let (pressure, _) = watch::channel(());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or the like: wait instead of spinning.
                tracing::error!(reason = %error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let share = match &shares {
            Some(shares) => match shares.take(peer.ip()) {
                Some(share) => Some(share),
                None => {
                    tracing::debug!("connection closed: its client holds its share already");
                    continue;
                }
            },
            None => None,
        };
        let place = match Arc::clone(&places).try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                tracing::debug!("every place taken: open connections close once idle");
                pressure.send_replace(());
                let Ok(place) = Arc::clone(&places).acquire_owned().await else {
                    return Ok(());
                };
                place
            }
        };
        // Subscribed after any pressure this connection caused: only later
        // waiting ones let it go.
        let mut released = pressure.subscribe();
        let asked = Arc::new(Notify::new());
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let on_request = Arc::clone(&asked);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            on_request.notify_one();
            let deadline = Instant::now() + body_timeout;
            let mut request = request.map(|body| {
                Body::new(Deadline {
                    body,
                    deadline,
                    timer: None,
                })
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let io = TokioIo::new(Unread {
            stream,
            timeout: body_timeout,
            stalled: None,
        });
        let connection = http.serve_connection(io, service);
        tokio::spawn(async move {
            let _held = (place, share);
            let mut connection = pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                Ok(()) = released.changed() => {
                    // Told before its first request, hyper would close a
                    // connection whose request is still on its way.
                    tokio::select! {
                        ended = connection.as_mut() => ended,
                        () = asked.notified() => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                }
            };
            if let Err(error) = ended {
                tracing::debug!(reason = %error, "connection ended");
            }
        });
    }
}

/// A client as its connections are counted: an IPv4 address, or the /64
/// an IPv6 address is in (one subscriber usually holds a whole /64).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl From<IpAddr> for Client {
    fn from(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(v4) => Client::V4(v4),
            IpAddr::V6(v6) => Client::V6(Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))),
        }
    }
}

/// How many connections each client holds, for the clients that hold any.
struct Shares {
    per_client: usize,
    held: Mutex<HashMap<Client, usize>>,
}

impl Shares {
    fn new(per_client: usize) -> Self {
        Self {
            per_client: per_client.max(1),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// One more connection for `peer`'s client, unless it holds its share.
    fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Share> {
        let client = Client::from(peer);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: Arc::clone(self),
            client,
        })
    }
}

/// One connection of a client's share, given back on drop.
struct Share {
    shares: Arc<Shares>,
    client: Client,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// The body of a request, read only now: at most [`BODY_LIMIT`] bytes
/// (413 beyond), 408 when it does not arrive in time, 400 when it breaks off.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, StatusCode> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|error| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(error) = source {
            if error.is::<http_body_util::LengthLimitError>() {
                return StatusCode::PAYLOAD_TOO_LARGE;
            }
            if error.is::<Late>() {
                return StatusCode::REQUEST_TIMEOUT;
            }
            source = error.source();
        }
        StatusCode::BAD_REQUEST
    })
}

/// A request body that did not arrive in time.
#[derive(Debug)]
struct Late;

impl std::fmt::Display for Late {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for Late {}

/// A request body that ends in an error unless it all arrived by `deadline`.
struct Deadline {
    body: Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(Late)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection whose writes fail once the client took nothing for
/// `timeout`: a client that does not read its responses lets go of the
/// connection instead of holding it.
struct Unread {
    stream: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Unread {
    /// `written` as it is, unless it is still waiting after the timeout.
    fn watch<T>(&mut self, cx: &mut Context<'_>, written: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Unread {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Unread {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shut = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.watch(cx, shut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn counted(shares: &Shares) -> usize {
        shares.held.lock().unwrap().len()
    }

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_64() {
        let shares = Arc::new(Shares::new(2));
        let first = shares.take(ip("192.0.2.1")).unwrap();
        let _mapped = shares.take(ip("::ffff:192.0.2.1")).unwrap();
        assert!(shares.take(ip("192.0.2.1")).is_none());
        assert!(shares.take(ip("192.0.2.2")).is_some());
        // Every IPv4-mapped address lies in ::/64, as ::1 does: mapped
        // addresses count as IPv4, or all of them would be one client.
        assert!(shares.take(ip("::1")).is_some());

        let _one = shares.take(ip("2001:db8:1:2::1")).unwrap();
        let _other = shares.take(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap();
        assert!(shares.take(ip("2001:db8:1:2::3")).is_none());
        assert!(shares.take(ip("2001:db8:1:3::1")).is_some());

        drop(first);
        assert!(shares.take(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn only_clients_that_hold_a_connection_are_counted() {
        let shares = Arc::new(Shares::new(1));
        for address in 0..100_000u32 {
            drop(shares.take(IpAddr::from(Ipv4Addr::from(address))));
        }
        assert_eq!(counted(&shares), 0);
        let held: Vec<_> = (0..1000u32)
            .map(|address| shares.take(IpAddr::from(Ipv4Addr::from(address))))
            .collect();
        assert_eq!(counted(&shares), 1000);
        drop(held);
        assert_eq!(counted(&shares), 0);
    }
}
