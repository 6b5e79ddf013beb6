//! promtext's tests, one binary (faster links): the text format rule by rule, the grouping key,
//! the handbook recipe's bodies, regressions found by fuzzing, and properties.

mod grouping_key;
mod handbook;
mod properties;
mod regression;
mod text;

use promtext::{Exposition, ParseError, parse};

/// Parses a body that must be valid.
#[track_caller]
pub fn ok(text: &str) -> Exposition {
    match parse(text) {
        Ok(exposition) => exposition,
        Err(e) => panic!("expected {text:?} to parse, got: {e}"),
    }
}

/// Parses a body that must be refused.
#[track_caller]
pub fn bad(text: &str) -> ParseError {
    match parse(text) {
        Ok(exposition) => panic!("expected {text:?} to be refused, got {exposition:?}"),
        Err(e) => e,
    }
}

/// Asserts a refusal on `line` whose message contains every fragment.
#[track_caller]
pub fn refused(text: &str, line: usize, fragments: &[&str]) {
    let e = bad(text);
    assert_eq!(e.line, line, "line of {e} for {text:?}");
    for fragment in fragments {
        assert!(
            e.message.contains(fragment),
            "message {:?} for {text:?} lacks {fragment:?}",
            e.message
        );
    }
}

/// Labels as `&str` pairs, for comparisons.
pub fn labels(sample: &promtext::Sample) -> Vec<(&str, &str)> {
    sample
        .labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}
