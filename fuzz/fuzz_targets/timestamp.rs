//! `timefmt::parse_flexible` (query strings, CLI flags, `deployed_at` strings): no panic,
//! and an accepted time prints as RFC 3339 that parses back to the same millisecond.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pacer::timefmt::{format, parse_flexible};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_flexible(&text) {
        Ok(t) => {
            assert!(t.millis() >= 0);
            let printed = format(t);
            let again = parse_flexible(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(again, t, "{text:?} printed as {printed}");
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
