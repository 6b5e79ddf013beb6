//! Flux notification-controller events, signed (generic-hmac) or with the bearer token
//! (generic): no 5xx, every refusal says why.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, hmac_hex, pick, send};
use libfuzzer_sys::fuzz_target;

const SIGNED: &[bool] = &[true, false];

fuzz_target!(|data: &[u8]| {
    let (signed, body) = pick(data, SIGNED);
    let header = if *signed {
        ("x-signature", format!("sha256={}", hmac_hex(SECRET, body)))
    } else {
        ("authorization", format!("Bearer {SECRET}"))
    };
    send("POST", "/webhooks/flux", &[header], body.to_vec());
});
