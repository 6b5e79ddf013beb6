//! `POST /api/v1/deployments` with any body: no 5xx, every refusal says why, and an
//! acknowledged deployment can be read back.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::send;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let answer = send("POST", "/api/v1/deployments", &[], data.to_vec());
    if answer.status.is_success() {
        common::assert_readable("deployments", &answer.body);
    }
});
