//! PagerDuty v3 deliveries signed under the second of two configured secrets (a rotation):
//! no 5xx, every refusal says why.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, hmac_hex, send};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signature = format!(
        "v1={},v1={}",
        hmac_hex("other", data),
        hmac_hex(SECRET, data)
    );
    let headers = [("x-pagerduty-signature", signature)];
    send("POST", "/webhooks/pagerduty", &headers, data.to_vec());
});
