//! `PATCH /api/v1/incidents/{id}` (triage) with any body, on an incident and a deployment
//! that exist: no 5xx, every refusal says why.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::send;
use libfuzzer_sys::fuzz_target;
use std::sync::Once;

fuzz_target!(|data: &[u8]| {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let d = br#"{"id":"d1","service":"api","environment":"production","deployed_at":"2026-03-01T10:00:00Z"}"#;
        assert!(send("POST", "/api/v1/deployments", &[], d.to_vec()).status.is_success());
        let i = br#"{"id":"i1","service":"api","opened_at":"2026-03-01T10:30:00Z"}"#;
        assert!(send("POST", "/api/v1/incidents", &[], i.to_vec()).status.is_success());
    });
    send("PATCH", "/api/v1/incidents/i1", &[], data.to_vec());
});
