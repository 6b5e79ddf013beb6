//! Argo CD notifications with the bearer token: no 5xx, every refusal says why.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{SECRET, send};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = [("authorization", format!("Bearer {SECRET}"))];
    send("POST", "/webhooks/argocd", &headers, data.to_vec());
});
