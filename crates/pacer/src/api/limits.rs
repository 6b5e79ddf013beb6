//! `[limits]` (docs/security.md): what one request and one client may cost, so that a
//! flood, a slow client or a stalled body cannot take the server from everyone else.
//!
//! * per-client rate: a token bucket per peer IP address; past it 429 with `Retry-After`;
//! * concurrency: a fixed number of requests in handlers at once; past it 503 with
//!   `Retry-After` at once. No queue: a queue would hide overload behind growing latency
//!   and memory, and the senders (CI jobs, webhooks) already retry;
//! * time: a request, body included, must be answered in time; past it 408.
//!
//! The body size is checked where the body is read (`input::read_body`, 413).

use super::error::ErrorCode;
use crate::settings::LimitsSettings;
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The shared state of the limit middlewares.
#[derive(Clone)]
pub struct Limits {
    timeout: Duration,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    rate: Option<Arc<RateLimiter>>,
}

impl Limits {
    pub fn new(settings: &LimitsSettings) -> Self {
        Limits {
            timeout: Duration::from_secs(settings.request_timeout_seconds),
            slots: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
            max_concurrent: settings.max_concurrent_requests,
            rate: (settings.rate_per_second > 0).then(|| {
                Arc::new(RateLimiter::new(
                    f64::from(settings.rate_per_second),
                    f64::from(settings.rate_burst),
                ))
            }),
        }
    }
}

/// 408 when the handler (reading the body included) takes longer than the timeout. The
/// handler's future is dropped; a write it had already handed to the store may still
/// commit, and a retry of it is idempotent.
pub async fn timeout(State(l): State<Limits>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    match tokio::time::timeout(l.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, seconds = l.timeout.as_secs(), "request timed out");
            refusal(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request was not complete and answered within {} s \
                     (limits.request_timeout_seconds): send the whole body promptly, and retry",
                    l.timeout.as_secs()
                ),
                None,
            )
        }
    }
}

/// 503 with `Retry-After` when `max_concurrent_requests` are already in handlers.
pub async fn concurrency(State(l): State<Limits>, request: Request, next: Next) -> Response {
    let Ok(_permit) = l.slots.clone().try_acquire_owned() else {
        tracing::warn!(max = l.max_concurrent, "request shed: too many in flight");
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the server is handling its maximum of {} requests at once \
                 (limits.max_concurrent_requests); retry after the Retry-After seconds",
                l.max_concurrent
            ),
            Some(1),
        );
    };
    next.run(request).await
}

/// 429 with `Retry-After` when the peer's bucket is empty. The peer is the TCP peer
/// address: behind a reverse proxy every client shares the proxy's (docs/security.md).
pub async fn rate(State(l): State<Limits>, request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    let peer = extensions
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.0.ip())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    if let (Some(limiter), Some(ip)) = (&l.rate, peer)
        && let Err(wait) = limiter.check(ip, Instant::now())
    {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        tracing::debug!(%ip, "request refused: rate limit");
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests from {ip}: the limit is {} per second with bursts of {} \
                 (limits.rate_per_second, limits.rate_burst); retry after {seconds} s",
                limiter.per_second, limiter.burst
            ),
            Some(seconds),
        );
    }
    next.run(request).await
}

fn refusal(
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
) -> Response {
    let mut response = (status, Json(json!({"error": message, "code": code}))).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response.extensions_mut().insert(ErrorCode(code));
    response
}

/// Token buckets per IP address: `burst` tokens, refilled at `per_second`.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Past this many remembered addresses, full buckets (idle clients) are forgotten, so a
/// scan from many addresses cannot grow the map without bound.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> Self {
        RateLimiter {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Takes one token for `ip`, or says how long until one is there.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        *bucket = Bucket { tokens, at: now };
        if tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 per second, bursts of 3: three at once pass, the fourth waits 0.5 s (one token
    /// at 2/s); 0.5 s later one more passes; another client is not affected.
    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let l = RateLimiter::new(2.0, 3.0);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check(a, t0), Ok(()));
        }
        assert_eq!(l.check(a, t0), Err(Duration::from_millis(500)));
        assert_eq!(l.check(b, t0), Ok(()));
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(l.check(a, t1), Ok(()));
        assert!(l.check(a, t1).is_err());
    }
}

/// The listener of [`crate::server::run`]: TCP, with every connection closed once it has
/// moved no byte in either direction for twice `request_timeout_seconds` while the server
/// waits to read. That closes connections that stall their request line, headers or body
/// (which never reach a handler, so the request timeout cannot see them) and idle keep-alive
/// connections, so held connections cannot pile up. A slow handler is not cut by it: a
/// handler ends within the request timeout, and its answer moves bytes.
pub struct IdleTimeoutListener {
    inner: tokio::net::TcpListener,
    idle: Duration,
}

impl IdleTimeoutListener {
    pub fn new(inner: tokio::net::TcpListener, settings: &LimitsSettings) -> Self {
        IdleTimeoutListener {
            inner,
            idle: Duration::from_secs(settings.request_timeout_seconds.saturating_mul(2)),
        }
    }
}

impl axum::serve::Listener for IdleTimeoutListener {
    type Io = IdleTimeoutStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            IdleTimeoutStream {
                inner: stream,
                idle: self.idle,
                deadline: Box::pin(tokio::time::sleep(self.idle)),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The peer of a connection, for `ConnectInfo` (the rate limit keys on its IP address).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, IdleTimeoutListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, IdleTimeoutListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A TCP stream whose reads fail with `TimedOut` after `idle` without progress.
pub struct IdleTimeoutStream {
    inner: tokio::net::TcpStream,
    idle: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl IdleTimeoutStream {
    fn progressed(&mut self) {
        let next = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }
}

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

impl AsyncRead for IdleTimeoutStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::debug!("closing a connection idle while a request was awaited");
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for IdleTimeoutStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.progressed();
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.progressed();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
