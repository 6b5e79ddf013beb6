//! GitLab Deployment Hook deliveries with the right token: no 5xx, every refusal says why.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, delivery_id, pick, send};
use libfuzzer_sys::fuzz_target;

// With and without an idempotency key: without one, the payload itself names the event.
const KEYED: &[bool] = &[true, false];

fuzz_target!(|data: &[u8]| {
    let (keyed, body) = pick(data, KEYED);
    let mut headers = vec![
        ("x-gitlab-token", SECRET.to_string()),
        ("x-gitlab-event", "Deployment Hook".to_string()),
    ];
    if *keyed {
        headers.push(("idempotency-key", delivery_id()));
    }
    send("POST", "/webhooks/gitlab", &headers, body.to_vec());
});
