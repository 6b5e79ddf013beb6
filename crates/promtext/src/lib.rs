//! The Prometheus text exposition format (version 0.0.4) and the Pushgateway URL grouping key,
//! parsed strictly enough that a bad push is refused with a message that says where and why.
//!
//! Both parsers follow the reference implementations that Pushgateway 1.5 runs:
//! `expfmt.TextParser` from `prometheus/common` for bodies, and `splitLabels` / `decodeBase64`
//! from `pushgateway/handler/push.go` for URLs. Where this crate deliberately differs, the
//! difference makes it accept a body that a human would call valid or refuse one that
//! Pushgateway's consistency check would refuse later:
//!
//! - CRLF line endings are accepted (expfmt reads the `\r` into the last token and fails).
//! - Blanks after the value, after the timestamp and after a `# TYPE` keyword are accepted.
//! - A sample that repeats an earlier series (same name, same label set) is an error, as
//!   Pushgateway's `checkMetricConsistency` refuses it; expfmt alone keeps both.
//! - A TYPE line after samples that belong to its family by suffix (`h_sum 1` then
//!   `# TYPE h histogram`) is an error, since [`Exposition::family_of`] would put `h_sum` in `h`
//!   after the fact; expfmt files such an early `h_sum` under a family of its own.
//! - A bare metric name must be followed by a blank or `{`: expfmt reads `a+5` as `a` with
//!   value `+5` and `my.metric 1` as `my` with value `.metric`; we refuse both, naming the name.
//! - A backslash in a TYPE keyword is kept (and so the type is unknown); expfmt drops it.
//! - Names may be quoted (`{"my.metric"}`) as in current expfmt, which Pushgateway 1.5 predates.
//! - Grouping-key segments are split on `/` *before* percent-decoding, so `%2F` stays inside a
//!   value instead of starting a new segment.
//!
//! Neither parser limits sizes (the HTTP layer bounds bodies and URLs), recurses, or panics,
//! and both run in time linear in their input (up to the `O(k log k)` sort of each sample's
//! `k` labels).

mod float;
mod grouping_key;
mod text;

use std::collections::BTreeMap;

pub use grouping_key::{GroupingKeyError, parse_grouping_key};
pub use text::parse;

/// The type a `# TYPE` line declares for a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricType {
    /// The keyword as written in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }

    /// Sample-name suffixes that belong to a family of this type, as Prometheus names them
    /// (`_created` comes from OpenMetrics, which clients also emit in 0.0.4 bodies).
    pub(crate) fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
            MetricType::Summary => &["_sum", "_count", "_created"],
            MetricType::Gauge | MetricType::Untyped => &[],
        }
    }
}

impl std::fmt::Display for MetricType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's metric name, including any `_bucket`/`_sum`/... suffix.
    pub name: String,
    /// Labels in the order they were written, values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The optional timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
    /// 1-based line number in the body.
    pub line: usize,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed body: its samples in order, and the `# TYPE` / `# HELP` declarations by family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, MetricType>,
    /// HELP text by family name, unescaped.
    pub help: BTreeMap<String, String>,
}

impl Exposition {
    /// The family name of a sample: strips `_bucket`/`_sum`/`_count`/`_total`/`_created` only
    /// when a `# TYPE` line declares the stripped name with a type that has that suffix
    /// (e.g. `x_sum` belongs to `x` only if `x` is a summary or histogram). A name that has a
    /// TYPE of its own is always its own family, as in expfmt.
    pub fn family_of(&self, sample_name: &str) -> String {
        family_of(&self.types, sample_name).to_owned()
    }

    /// The declared type of the family `sample_name` belongs to; `Untyped` when undeclared.
    pub fn type_of(&self, sample_name: &str) -> MetricType {
        self.types
            .get(family_of(&self.types, sample_name))
            .copied()
            .unwrap_or(MetricType::Untyped)
    }
}

fn family_of<'a>(types: &BTreeMap<String, MetricType>, sample_name: &'a str) -> &'a str {
    if types.contains_key(sample_name) {
        return sample_name;
    }
    for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] {
        if let Some(base) = sample_name.strip_suffix(suffix)
            && let Some(t) = types.get(base)
            && t.suffixes().contains(&suffix)
        {
            return base;
        }
    }
    sample_name
}

/// Why a body is not valid text format. `line` is 1-based; the message names the offending
/// text (truncated) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// How much of an offending text an error message quotes.
const SNIPPET_CHARS: usize = 60;

/// `s` as [`snippet`] prints it, computed only if an error message is actually written.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&snippet(self.0))
    }
}

/// `s` quoted for an error message, cut after [`SNIPPET_CHARS`] characters so that one huge
/// line does not become one huge error response.
pub(crate) fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{:?}…", s.get(..cut).unwrap_or_default()),
        None => format!("{s:?}"),
    }
}

/// `s` unquoted, cut like [`snippet`], for text that is already readable as it is.
pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}
