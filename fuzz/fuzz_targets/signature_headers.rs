//! Any value of the signature headers (GitHub `X-Hub-Signature-256`, Flux `X-Signature`,
//! PagerDuty `X-PagerDuty-Signature` `v1=` lists) over a fixed body: no 5xx, and nothing but
//! a value carrying the body's real HMAC is ever let through (everything else is 401).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, delivery_id, hmac_hex, pick, send};
use libfuzzer_sys::fuzz_target;

const BODY: &[u8] = br#"{"zen":"fuzz"}"#;

const RECEIVERS: &[(&str, &str)] = &[
    ("/webhooks/github", "x-hub-signature-256"),
    ("/webhooks/flux", "x-signature"),
    ("/webhooks/pagerduty", "x-pagerduty-signature"),
];

fuzz_target!(|data: &[u8]| {
    let ((path, name), value) = pick(data, RECEIVERS);
    let value = String::from_utf8_lossy(value).into_owned();
    // A value HTTP cannot carry (NUL, CR, LF) never reaches a server.
    if axum::http::HeaderValue::from_str(&value).is_err() {
        return;
    }
    let real = hmac_hex(SECRET, BODY);
    let headers = [
        (*name, value.clone()),
        ("x-github-event", "ping".to_string()),
        ("x-github-delivery", delivery_id()),
    ];
    let answer = send("POST", path, &headers, BODY.to_vec());
    if !value.to_ascii_lowercase().contains(&real) {
        assert_eq!(answer.status.as_u16(), 401, "{path} let {value:?} through");
    }
});
