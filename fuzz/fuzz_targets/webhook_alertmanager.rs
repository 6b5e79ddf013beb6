//! Alertmanager webhook notifications, with a bearer token or basic auth: no 5xx, every
//! refusal says why (one bad alert refuses the whole notification, so nothing partial).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, USER, basic, pick, send};
use libfuzzer_sys::fuzz_target;

const BASIC: &[bool] = &[false, true];

fuzz_target!(|data: &[u8]| {
    let (use_basic, body) = pick(data, BASIC);
    let auth = if *use_basic {
        basic(USER, SECRET)
    } else {
        format!("Bearer {SECRET}")
    };
    send(
        "POST",
        "/webhooks/alertmanager",
        &[("authorization", auth)],
        body.to_vec(),
    );
});
