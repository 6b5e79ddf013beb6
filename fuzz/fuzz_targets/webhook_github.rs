//! GitHub deliveries, correctly signed, so the fuzzer reaches the payload parser: no 5xx,
//! every refusal says why (`common::send`).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, delivery_id, hmac_hex, pick, send};
use libfuzzer_sys::fuzz_target;

const EVENTS: &[(&str, &str)] = &[
    ("deployment_status", "application/json"),
    ("deployment_status", "application/x-www-form-urlencoded"),
    ("ping", "application/json"),
    ("push", "application/json"),
];

fuzz_target!(|data: &[u8]| {
    let ((event, content_type), body) = pick(data, EVENTS);
    let headers = [
        (
            "x-hub-signature-256",
            format!("sha256={}", hmac_hex(SECRET, body)),
        ),
        ("x-github-event", event.to_string()),
        ("x-github-delivery", delivery_id()),
        ("content-type", content_type.to_string()),
    ];
    send("POST", "/webhooks/github", &headers, body.to_vec());
});
