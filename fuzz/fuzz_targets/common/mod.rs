//! The whole HTTP application in-process, for targets whose parser needs the server's
//! settings and store (the webhook receivers take `&Pacer`): one router over a throwaway
//! SQLite file per fuzzing process, driven with `tower::ServiceExt::oneshot`, so every input
//! goes through the same authentication, parsing and writing as a real delivery.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use pacer::app::Pacer;
use pacer::settings::{Secret, Settings};
use sha2::Sha256;
use std::sync::OnceLock;
use tower::ServiceExt;

/// The secrets every receiver is configured with.
pub const SECRET: &str = "fuzz-secret";
pub const USER: &str = "fuzz";

pub struct App {
    pub runtime: tokio::runtime::Runtime,
    pub router: axum::Router,
}

pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("pacer-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut settings = Settings::default();
        // NORMAL: a crash of the fuzzer loses nothing that matters, and FULL would spend
        // the run waiting for fsync.
        settings.server.database = format!(
            "sqlite://{}?synchronous=normal",
            dir.join("fuzz.db").display()
        );
        let w = &mut settings.webhooks;
        w.github.secret = Some(Secret::new(SECRET));
        w.gitlab.token = Some(Secret::new(SECRET));
        w.flux.secret = Some(Secret::new(SECRET));
        w.flux.token = Some(Secret::new(SECRET));
        w.argocd.token = Some(Secret::new(SECRET));
        w.pagerduty.secrets = vec![Secret::new("fuzz-old"), Secret::new(SECRET)];
        w.opsgenie.token = Some(Secret::new(SECRET));
        w.opsgenie.username = Some(USER.into());
        w.opsgenie.password = Some(Secret::new(SECRET));
        w.alertmanager.token = Some(Secret::new(SECRET));
        w.alertmanager.username = Some(USER.into());
        w.alertmanager.password = Some(Secret::new(SECRET));
        let store = runtime
            .block_on(pacer::store::open(&settings.server.database))
            .expect("open store");
        let router = pacer::api::router(Pacer::new(store, settings));
        App { runtime, router }
    })
}

/// The answer to one request.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends one request and checks what every answer must satisfy: never a 5xx, and every
/// refusal is JSON whose `error` says what is wrong.
pub fn send(method: &str, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
    let app = app();
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = match request.body(Body::from(body)) {
        Ok(r) => r,
        // A header value the fuzzer made that HTTP cannot carry never reaches a server.
        Err(_) => {
            return Answer {
                status: StatusCode::BAD_REQUEST,
                body: Vec::new(),
            };
        }
    };
    let answer = app.runtime.block_on(async {
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer { status, body }
    });
    let text = String::from_utf8_lossy(&answer.body);
    assert!(
        !answer.status.is_server_error(),
        "{method} {path}: {} {text}",
        answer.status
    );
    if answer.status.is_client_error() {
        let value: serde_json::Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        let error = value["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "a refusal without a message: {text}");
        assert!(error.len() < 8_192, "{} bytes of error", error.len());
    }
    answer
}

/// `HMAC-SHA256(key, body)` in lower-case hex.
pub fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The first byte picks among `choices` (so the fuzzer explores each), the rest is the body.
pub fn pick<'a, T>(data: &'a [u8], choices: &'a [T]) -> (&'a T, &'a [u8]) {
    match data.split_first() {
        Some((b, rest)) => (&choices[*b as usize % choices.len()], rest),
        None => (&choices[0], data),
    }
}

/// A fresh delivery id per input, so accepted deliveries are written rather than all
/// answered "already processed".
pub fn delivery_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("fuzz-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// An acknowledged write answers `{"id": …}` (or `{"incident": {"id": …}}`); reading that
/// id back must find it. Ids the URL cannot carry verbatim are percent-encoded.
pub fn assert_readable(collection: &str, body: &[u8]) {
    let value: serde_json::Value = serde_json::from_slice(body).expect("2xx body is JSON");
    let id = value["id"]
        .as_str()
        .or_else(|| value["incident"]["id"].as_str())
        .unwrap_or_else(|| panic!("no id in {value}"));
    let encoded: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let got = send(
        "GET",
        &format!("/api/v1/{collection}/{encoded}"),
        &[],
        Vec::new(),
    );
    assert_eq!(
        got.status.as_u16(),
        200,
        "{id:?} acknowledged but not found"
    );
}
