//! `POST /api/v1/incidents` with any body: no 5xx, every refusal says why, and an
//! acknowledged incident can be read back.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::send;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let answer = send("POST", "/api/v1/incidents", &[], data.to_vec());
    if answer.status.is_success() {
        common::assert_readable("incidents", &answer.body);
    }
});
