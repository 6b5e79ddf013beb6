//! The Pushgateway grouping key: `job/<job>{/<label>/<value>}` as in Pushgateway 1.5
//! (`handler/push.go`: `splitLabels`, `decodeBase64`).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use percent_encoding::percent_decode_str;
use std::collections::HashSet;

use crate::{Quoted, snippet};

/// Why a push URL's grouping key is refused. The message names the segment and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GroupingKeyError {
    /// The offending path segment as it appeared in the URL (still percent-encoded); empty
    /// when a segment is missing.
    pub segment: String,
    pub message: String,
}

fn refuse(segment: &str, message: String) -> GroupingKeyError {
    GroupingKeyError {
        segment: segment.to_owned(),
        message,
    }
}

/// Base64url (RFC 4648 §5) as Go's `RawURLEncoding` reads it after `decodeBase64` has trimmed
/// any `=`: no padding, and non-zero trailing bits tolerated (Go is not strict by default).
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

const BASE64_SUFFIX: &str = "@base64";

/// Parses the part of a push URL path after `/metrics/`, e.g. `job/deploy/instance/web-1`, into
/// `[("job", "deploy"), ("instance", "web-1")]`, in URL order with `job` first.
///
/// Each segment is percent-decoded after splitting on `/`. A label written `<name>@base64`
/// takes a base64url value (padding optional, so `=` alone is the empty value; that is the only
/// way to push an empty value, as in Pushgateway). The job must be non-empty; label names must
/// match `[a-zA-Z_][a-zA-Z0-9_]*`, not start with `__`, and appear once.
pub fn parse_grouping_key(path: &str) -> Result<Vec<(String, String)>, GroupingKeyError> {
    let segments: Vec<&str> = path.split('/').collect();
    let first = segments.first().copied().unwrap_or_default();
    let job_base64 = match percent_decode(first)?.as_str() {
        "job" => false,
        "job@base64" => true,
        _ => {
            return Err(refuse(
                first,
                format!(
                    "push URL must continue /metrics/ with job/<job name> or job@base64/<base64url \
                     job name>, found {}",
                    snippet(path)
                ),
            ));
        }
    };
    let Some(&job_segment) = segments.get(1) else {
        return Err(refuse(
            "",
            format!("push URL has no job name: expected /metrics/{first}/<job name>"),
        ));
    };
    let job = if job_base64 {
        decode_base64(job_segment, "job")?
    } else {
        percent_decode(job_segment)?
    };
    if job.is_empty() {
        return Err(refuse(
            job_segment,
            "job name is empty: push to /metrics/job/<job name> with a non-empty name".to_owned(),
        ));
    }

    let rest = segments.get(2..).unwrap_or_default();
    if rest.len() % 2 == 1 {
        let last = rest.last().copied().unwrap_or_default();
        return Err(if last.is_empty() {
            refuse(
                last,
                "push URL ends with '/': remove the trailing slash, or give the value of the \
                 last label"
                    .to_owned(),
            )
        } else {
            refuse(
                last,
                format!(
                    "grouping label {0} has no value (an odd number of segments after the job): \
                     expected {1}/<value>, or {1}@base64/= for an empty value",
                    snippet(last),
                    example(last)
                ),
            )
        });
    }

    let mut key = Vec::with_capacity(1 + rest.len() / 2);
    key.push(("job".to_owned(), job));
    let mut seen = HashSet::from(["job".to_owned()]);
    for pair in rest.chunks_exact(2) {
        let (name_segment, value_segment) = (pair[0], pair[1]);
        let decoded = percent_decode(name_segment)?;
        let (name, base64) = match decoded.strip_suffix(BASE64_SUFFIX) {
            Some(name) => (name, true),
            None => (decoded.as_str(), false),
        };
        check_label_name(name_segment, name)?;
        let name_q = Quoted(name);
        if !seen.insert(name.to_owned()) {
            return Err(refuse(
                name_segment,
                format!(
                    "grouping label {name_q} appears twice in the push URL: give each label once \
                     (the job is given by /metrics/job/<job>)"
                ),
            ));
        }
        let value = if base64 {
            decode_base64(value_segment, name)?
        } else {
            percent_decode(value_segment)?
        };
        if value.is_empty() && !base64 {
            return Err(refuse(
                value_segment,
                format!(
                    "grouping label {name_q} has an empty value: to push an empty value write \
                     {}@base64/=",
                    example(name)
                ),
            ));
        }
        key.push((name.to_owned(), value));
    }
    Ok(key)
}

fn check_label_name(segment: &str, name: &str) -> Result<(), GroupingKeyError> {
    if name.is_empty() {
        return Err(refuse(
            segment,
            "empty grouping label name (a doubled '/'?): expected <label>/<value> pairs after the \
             job"
            .to_owned(),
        ));
    }
    let bytes = name.as_bytes();
    let valid_start = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
    if !valid_start
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return Err(refuse(
            segment,
            format!(
                "invalid grouping label name {}: label names match [a-zA-Z_][a-zA-Z0-9_]*",
                snippet(name)
            ),
        ));
    }
    if name.starts_with("__") {
        return Err(refuse(
            segment,
            format!(
                "grouping label name {} is reserved: names starting with \"__\" are for \
                 Prometheus' internal use, pick another name",
                snippet(name)
            ),
        ));
    }
    Ok(())
}

/// A segment with `%XX` escapes decoded, which must then be UTF-8.
fn percent_decode(segment: &str) -> Result<String, GroupingKeyError> {
    // percent-encoding passes a malformed escape through unchanged; Go's URL parser (and so
    // Pushgateway) refuses the request, and so do we rather than guess.
    let bytes = segment.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return Err(refuse(
                segment,
                format!(
                    "invalid percent-encoding in push URL segment {}: '%' must be followed by \
                     two hex digits, write a literal '%' as %25",
                    snippet(segment)
                ),
            ));
        }
    }
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            refuse(
                segment,
                format!(
                    "push URL segment {} is not UTF-8 once percent-decoded",
                    snippet(segment)
                ),
            )
        })
}

/// `decodeBase64`: percent-decode (Go decodes the whole path first), trim every trailing `=`,
/// then base64url without padding; the result must be UTF-8 text.
fn decode_base64(segment: &str, label: &str) -> Result<String, GroupingKeyError> {
    let label_q = Quoted(label);
    let text = percent_decode(segment)?;
    let bytes = BASE64URL.decode(text.trim_end_matches('=')).map_err(|e| {
        let hint = if text.contains(['+', '/']) {
            " ('-' and '_' replace '+' and '/' in the URL-safe alphabet)"
        } else {
            ""
        };
        refuse(
            segment,
            format!(
                "invalid base64url value {} for {label_q}: {e}; encode it with the URL-safe \
                     alphabet of RFC 4648 §5{hint}, padding optional",
                snippet(segment)
            ),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        refuse(
            segment,
            format!(
                "base64url value {} for {label_q} does not decode to UTF-8 text",
                snippet(segment)
            ),
        )
    })
}

/// A name to show in a suggested URL: itself when short, else a placeholder.
fn example(name: &str) -> &str {
    if name.chars().count() <= crate::SNIPPET_CHARS {
        name
    } else {
        "<label>"
    }
}
