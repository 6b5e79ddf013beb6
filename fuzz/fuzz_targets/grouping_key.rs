//! Any path: no panic, and an accepted key keeps the rules (job first and non-empty, valid
//! distinct names, empty values only where base64 allowed them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promtext::parse_grouping_key;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let path = String::from_utf8_lossy(data);
    match parse_grouping_key(&path) {
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.message.len() < 4_096, "{} bytes", e.message.len());
            assert!(path.split('/').any(|s| s == e.segment) || e.segment.is_empty());
        }
        Ok(key) => {
            assert_eq!(key[0].0, "job");
            assert!(!key[0].1.is_empty());
            let mut names = HashSet::new();
            for (name, _) in &key {
                assert!(names.insert(name.as_str()), "duplicate {name}");
                let mut bytes = name.bytes();
                assert!(
                    bytes
                        .next()
                        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                );
                assert!(bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                assert!(!name.starts_with("__"));
            }
            assert_eq!(key.len() * 2, path.split('/').count());
        }
    }
});
