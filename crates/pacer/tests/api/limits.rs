//! `[limits]` (docs/security.md): past a limit the client gets 413, 408, 503 or 429 (with
//! `Retry-After` where it applies), and the server keeps serving everyone else.

use crate::helpers::{TestApp, spawn_app_with};
use pacer::settings::Settings;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A write whose headers promise a 100-byte body of which 10 bytes are sent: the handler
/// waits for the rest, holding its slot, until the client or the timeout gives up.
async fn stalled_write(app: &TestApp) -> TcpStream {
    let host = app.address.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).await.expect("connect");
    let head = format!(
        "POST /api/v1/deployments HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{\"service\""
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s
}

/// The status, headers and body of the one response on `s` (raw HTTP/1.1).
async fn raw_response(s: &mut TcpStream) -> (u16, String, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head[9..12].parse().expect("status");
                return (
                    status,
                    head.to_string(),
                    serde_json::from_str(body).unwrap_or(Value::Null),
                );
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_limits_body_limit_bytes_is_the_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pacer.toml");
    std::fs::write(&path, "[limits]\nbody_limit_bytes = 120\n").unwrap();
    let settings = Settings::load(Some(&path)).expect("loads");
    assert_eq!(settings.server.body_limit_bytes, 120);
    let app = spawn_app_with(settings).await;
    // 94 bytes: under the limit.
    let small = json!({"service": "api", "environment": "production", "deployed_at": 1773568800});
    assert!(small.to_string().len() <= 120);
    assert_eq!(app.deploy(small).await.status, 201);
    let big = json!({"service": "api", "environment": "production", "deployed_at": 1773568800,
                     "sha": "x".repeat(100)});
    let a = app.deploy(big).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(a.body["code"], "body_too_large");
    assert!(a.error().contains("120 bytes"), "{}", a.body);
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_others_are_served_meanwhile() {
    let mut settings = Settings::default();
    settings.limits.request_timeout_seconds = 1;
    let app = spawn_app_with(settings).await;
    let started = Instant::now();
    let mut stalled = stalled_write(&app).await;
    // Served while the stalled request waits.
    assert_eq!(app.get("/healthz").await.status, 200);
    let (status, _, body) = raw_response(&mut stalled).await;
    let waited = started.elapsed();
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["code"], "request_timeout");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("limits.request_timeout_seconds"), "{error}");
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // Nothing was stored.
    assert_eq!(
        app.get("/api/v1/deployments").await.body["deployments"],
        json!([])
    );
}

/// A connection that never finishes its headers never reaches a handler (so no request
/// timeout sees it): it is closed after twice `request_timeout_seconds` without a byte.
#[tokio::test]
async fn a_connection_that_stalls_its_headers_is_closed() {
    let mut settings = Settings::default();
    settings.limits.request_timeout_seconds = 1;
    let app = spawn_app_with(settings).await;
    let host = app.address.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).await.expect("connect");
    let started = Instant::now();
    s.write_all(b"GET /api/v1/services HTTP/1.1\r\nhos")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("the server closes the connection in time");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("unexpected answer: {}", String::from_utf8_lossy(&buf[..n])),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn past_max_concurrent_requests_the_next_gets_503_with_retry_after() {
    let mut settings = Settings::default();
    settings.limits.max_concurrent_requests = 1;
    let app = spawn_app_with(settings).await;
    let stalled = stalled_write(&app).await;
    // The stalled write reaches its handler a moment after its headers are sent.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let r = app
            .client
            .get(app.url("/api/v1/services"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 503 {
            break r;
        }
        assert!(Instant::now() < deadline, "never refused: {}", r.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("limits.max_concurrent_requests"),
        "{body}"
    );
    // The slot comes back when the stalled client goes away.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/api/v1/services").await.status != 200 {
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 1 request per second with bursts of 3: a client's first 3 requests pass, its 4th (sent
/// at once) gets 429 with `Retry-After: 1` (one token at 1/s takes up to a second), while a
/// client from another address is still served.
#[tokio::test]
async fn a_client_over_its_rate_gets_429_while_another_is_served() {
    let mut settings = Settings::default();
    settings.limits.rate_per_second = 1;
    settings.limits.rate_burst = 3;
    let app = spawn_app_with(settings).await;
    let from = |ip: &str| {
        pacer::http::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let (a, b) = (from("127.0.0.1"), from("127.0.0.2"));
    for _ in 0..3 {
        let r = a.get(app.url("/api/v1/services")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = a.get(app.url("/api/v1/services")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.1") && error.contains("limits.rate_per_second"),
        "{error}"
    );
    let r = b.get(app.url("/api/v1/services")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "another client is served");
}

#[test]
fn limits_are_validated_with_what_to_set() {
    let check = |f: fn(&mut Settings), want: &str| {
        let mut s = Settings::default();
        f(&mut s);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    };
    check(
        |s| s.limits.request_timeout_seconds = 0,
        "limits.request_timeout_seconds = 0 must be between 1 and 3600",
    );
    check(
        |s| s.limits.max_concurrent_requests = 0,
        "limits.max_concurrent_requests must be at least 1",
    );
    check(
        |s| s.limits.rate_burst = 0,
        "limits.rate_burst must be at least 1",
    );
    check(
        |s| s.limits.body_limit_bytes = Some(0),
        "limits.body_limit_bytes must be at least 1",
    );
    // 0 turns the rate limit off.
    let mut off = Settings::default();
    off.limits.rate_per_second = 0;
    off.limits.rate_burst = 0;
    off.validate().expect("valid");
}
