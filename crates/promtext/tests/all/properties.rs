//! Properties: prometheus-client's own encoders round-trip through the parser exactly; any
//! input is answered without a panic and with an in-range line number; a parsed body printed
//! back parses to the same thing; a grouping key written back parses to itself.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use promtext::{Exposition, MetricType, parse, parse_grouping_key};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, Copy)]
enum Value {
    F64Gauge(f64),
    I64Gauge(i64),
    U64Counter(u64),
    F64Counter(f64),
}

impl Value {
    fn as_f64(self) -> f64 {
        match self {
            Value::F64Gauge(v) | Value::F64Counter(v) => v,
            // Printed exactly by itoa; the parser rounds the decimal to nearest like `as`.
            Value::I64Gauge(v) => v as f64,
            Value::U64Counter(v) => v as f64,
        }
    }

    fn is_counter(self) -> bool {
        matches!(self, Value::U64Counter(_) | Value::F64Counter(_))
    }
}

#[derive(Debug, Clone)]
struct FamilySpec {
    help: String,
    label_names: Vec<String>,
    /// Label values (one per name) to value; all values of one family have one kind.
    series: BTreeMap<Vec<String>, Value>,
}

/// Characters that stress the escaping, plus anything at all.
fn label_value() -> impl Strategy<Value = String> {
    const SPECIAL: &[char] = &[
        '\\', '"', '\n', '\r', '{', '}', ',', '=', ' ', '\t', '#', 'λ', '😀',
    ];
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(SPECIAL),
            1 => any::<char>(),
        ],
        0..12,
    )
    .prop_map(String::from_iter)
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("reserved", |n| !n.starts_with("__"))
}

fn family() -> impl Strategy<Value = FamilySpec> {
    let kind = 0..4u8;
    (
        kind,
        label_value(),
        prop::collection::btree_set(label_name(), 0..4),
    )
        .prop_flat_map(|(kind, help, names)| {
            let names: Vec<String> = names.into_iter().collect();
            let value: BoxedStrategy<Value> = match kind {
                0 => any::<f64>().prop_map(Value::F64Gauge).boxed(),
                1 => any::<i64>().prop_map(Value::I64Gauge).boxed(),
                2 => any::<u64>().prop_map(Value::U64Counter).boxed(),
                _ => (0f64..1e300).prop_map(Value::F64Counter).boxed(),
            };
            // Without labels a family has exactly one series.
            let size = if names.is_empty() { 1..2 } else { 1..5 };
            let series = prop::collection::btree_map(
                prop::collection::vec(label_value(), names.len()),
                value,
                size,
            );
            (Just(help), Just(names), series)
        })
        .prop_map(|(help, label_names, series)| FamilySpec {
            help,
            label_names,
            series,
        })
}

fn labels_of(spec: &FamilySpec, values: &[String]) -> Labels {
    spec.label_names
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect()
}

/// `help` replaces each family's own HELP text when given.
fn register(families: &[FamilySpec], help: Option<&str>) -> Registry {
    let mut registry = Registry::default();
    for (i, spec) in families.iter().enumerate() {
        let name = format!("fam{i}");
        let help = help.unwrap_or(&spec.help).to_owned();
        // The kind is the same for every series of a family (one strategy per family).
        match spec.series.values().next() {
            Some(Value::F64Gauge(_)) => {
                let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                for (values, value) in &spec.series {
                    family
                        .get_or_create(&labels_of(spec, values))
                        .set(value.as_f64());
                }
                registry.register(name, help, family);
            }
            Some(Value::I64Gauge(_)) => {
                let family = Family::<Labels, Gauge>::default();
                for (values, value) in &spec.series {
                    if let Value::I64Gauge(v) = value {
                        family.get_or_create(&labels_of(spec, values)).set(*v);
                    }
                }
                registry.register(name, help, family);
            }
            Some(Value::U64Counter(_)) => {
                let family = Family::<Labels, Counter>::default();
                for (values, value) in &spec.series {
                    if let Value::U64Counter(v) = value {
                        family.get_or_create(&labels_of(spec, values)).inc_by(*v);
                    }
                }
                registry.register(name, help, family);
            }
            Some(Value::F64Counter(_)) => {
                let family = Family::<Labels, Counter<f64, AtomicU64>>::default();
                for (values, value) in &spec.series {
                    family
                        .get_or_create(&labels_of(spec, values))
                        .inc_by(value.as_f64());
                }
                registry.register(name, help, family);
            }
            None => {}
        }
    }
    registry
}

/// (sample name, labels in order, value, family type, family help) for comparison.
type Row = (String, Labels, f64, MetricType, String);

fn expected(families: &[FamilySpec], help: Option<&str>) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, spec) in families.iter().enumerate() {
        for (values, value) in &spec.series {
            let (name, t) = if value.is_counter() {
                (format!("fam{i}_total"), MetricType::Counter)
            } else {
                (format!("fam{i}"), MetricType::Gauge)
            };
            // The registry appends a period; blanks right after the name are separators.
            let help = format!("{}.", help.unwrap_or(&spec.help))
                .trim_start_matches([' ', '\t'])
                .to_owned();
            rows.push((name, labels_of(spec, values), value.as_f64(), t, help));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

fn actual(e: &Exposition) -> Vec<Row> {
    let mut rows: Vec<Row> = e
        .samples
        .iter()
        .map(|s| {
            let family = e.family_of(&s.name);
            let help = e.help.get(&family).cloned().unwrap_or_default();
            (
                s.name.clone(),
                s.labels.clone(),
                s.value,
                e.type_of(&s.name),
                help,
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

fn same_value(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_round_trip(body: &str, want: &[Row]) -> Result<(), TestCaseError> {
    let e = parse(body).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
    let got = actual(&e);
    prop_assert_eq!(got.len(), want.len(), "{}", body);
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(&g.0, &w.0);
        prop_assert_eq!(&g.1, &w.1);
        prop_assert!(same_value(g.2, w.2), "{} != {} in\n{}", g.2, w.2, body);
        prop_assert_eq!(g.3, w.3);
        prop_assert_eq!(&g.4, &w.4);
    }
    prop_assert!(e.samples.iter().all(|s| s.timestamp_ms.is_none()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// prometheus-client's 0.0.4 encoder, read back exactly: names, labels, values, types
    /// and HELP text.
    #[test]
    fn prometheus_text_output_round_trips(families in prop::collection::vec(family(), 1..5)) {
        let mut body = String::new();
        prometheus_text::encode(&mut body, &register(&families, None)).unwrap();
        assert_round_trip(&body, &expected(&families, None))?;
    }

    /// Its OpenMetrics encoder too (`# EOF` and `_total` samples of a counter family), with a
    /// plain HELP text: prometheus-client 0.26 writes OpenMetrics HELP unescaped, so a newline
    /// in it breaks that output for any reader.
    #[test]
    fn openmetrics_output_round_trips(families in prop::collection::vec(family(), 1..5)) {
        let help = Some("Plain help");
        let mut body = String::new();
        text::encode(&mut body, &register(&families, help)).unwrap();
        assert_round_trip(&body, &expected(&families, help))?;
    }
}

// ---- no panics, and self-consistency ------------------------------------------------------

/// Fragments of the format, so random bodies get past the first character.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    " ",
    "\t",
    "#",
    "# HELP ",
    "# TYPE ",
    "counter",
    "histogram",
    "summary",
    "{",
    "}",
    "\"",
    "\\",
    "=",
    ",",
    "a",
    "a_bucket",
    "a_sum",
    "le",
    "quantile",
    "__name__",
    "1",
    "-2.5e3",
    "+Inf",
    "NaN",
    "1700000000000",
    "é",
    "b",
    "_",
    ":",
    ".",
    "0",
    "9",
];

fn token() -> impl Strategy<Value = String> {
    // `select` over one list is much cheaper to draw from than a 30-arm `prop_oneof!`.
    prop_oneof![
        9 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..60).prop_map(|t| t.concat())
}

fn check_answer(text: &str) -> Result<Option<Exposition>, TestCaseError> {
    let lines = text.split('\n').count();
    match parse(text) {
        Ok(e) => {
            for s in &e.samples {
                prop_assert!((1..=lines).contains(&s.line), "sample line {}", s.line);
            }
            Ok(Some(e))
        }
        Err(e) => {
            prop_assert!(
                (1..=lines).contains(&e.line),
                "error line {} of {}",
                e.line,
                lines
            );
            prop_assert!(!e.message.is_empty());
            // Offending text is quoted cut short, so a message stays small.
            prop_assert!(e.message.len() < 1_000, "{} bytes", e.message.len());
            Ok(None)
        }
    }
}

fn is_bare(name: &str, metric: bool) -> bool {
    let mut bytes = name.bytes();
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || (metric && b == b':');
    bytes.next().is_some_and(start) && bytes.all(|b| start(b) || b.is_ascii_digit())
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// Prints a parsed body back in the format: TYPE and HELP first, then the samples.
fn render(e: &Exposition) -> String {
    let name = |n: &str| {
        if is_bare(n, true) {
            n.to_owned()
        } else {
            quote(n)
        }
    };
    let mut out = String::new();
    for (n, t) in &e.types {
        writeln!(out, "# TYPE {} {t}", name(n)).unwrap();
    }
    for (n, h) in &e.help {
        let escaped = h.replace('\\', "\\\\").replace('\n', "\\n");
        writeln!(out, "# HELP {} {escaped}", name(n)).unwrap();
    }
    for s in &e.samples {
        let mut items = Vec::new();
        if !is_bare(&s.name, true) {
            items.push(quote(&s.name));
        }
        for (l, v) in &s.labels {
            let l = if is_bare(l, false) {
                l.clone()
            } else {
                quote(l)
            };
            items.push(format!("{l}={}", quote(v)));
        }
        let head = if is_bare(&s.name, true) {
            s.name.clone()
        } else {
            String::new()
        };
        write!(out, "{head}{{{}}} {:?}", items.join(","), s.value).unwrap();
        if let Some(ts) = s.timestamp_ms {
            write!(out, " {ts}").unwrap();
        }
        out.push('\n');
    }
    out
}

fn check_reparse(e: &Exposition) -> Result<(), TestCaseError> {
    let printed = render(e);
    let again = parse(&printed).map_err(|err| TestCaseError::fail(format!("{err}\n{printed}")))?;
    prop_assert_eq!(&again.types, &e.types);
    // A HELP text ending in '\r' loses it once printed with a line end after it, and a HELP
    // line left with no text is a plain comment (fuzzing found `# HELP N\t\r\r\n`).
    let help: BTreeMap<&String, &str> = e
        .help
        .iter()
        .map(|(k, v)| (k, v.strip_suffix('\r').unwrap_or(v)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let help_again: BTreeMap<&String, &str> =
        again.help.iter().map(|(k, v)| (k, v.as_str())).collect();
    prop_assert_eq!(help_again, help);
    prop_assert_eq!(again.samples.len(), e.samples.len());
    for (a, b) in again.samples.iter().zip(&e.samples) {
        prop_assert_eq!(&a.name, &b.name);
        prop_assert_eq!(&a.labels, &b.labels);
        prop_assert!(same_value(a.value, b.value));
        prop_assert_eq!(a.timestamp_ms, b.timestamp_ms);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Some(e) = check_answer(&text)? {
            check_reparse(&e)?;
        }
    }

    #[test]
    fn format_token_soup_never_panics_and_reparses(text in soup()) {
        if let Some(e) = check_answer(&text)? {
            check_reparse(&e)?;
        }
    }

    #[test]
    fn arbitrary_paths_never_panic(path in any::<String>()) {
        match parse_grouping_key(&path) {
            Ok(key) => {
                prop_assert_eq!(key.first().map(|(n, _)| n.as_str()), Some("job"));
                prop_assert!(!key[0].1.is_empty());
            }
            Err(e) => prop_assert!(e.message.len() < 1_000),
        }
    }

    #[test]
    fn path_soup_never_panics(segments in prop::collection::vec(
        prop_oneof![
            Just("job".to_owned()),
            Just("job@base64".to_owned()),
            Just("instance".to_owned()),
            Just("x@base64".to_owned()),
            Just("=".to_owned()),
            Just("".to_owned()),
            Just("%".to_owned()),
            Just("%2F".to_owned()),
            Just("%FF".to_owned()),
            Just("__x".to_owned()),
            "[A-Za-z0-9_=-]{0,6}",
        ],
        0..8,
    )) {
        let _ = parse_grouping_key(&segments.join("/"));
    }

    /// Any key with a non-empty job and valid, distinct names is read back from its URL,
    /// whether values are written base64url or percent-encoded.
    #[test]
    fn grouping_keys_round_trip(
        job in any::<String>().prop_filter("job is non-empty", |j| !j.is_empty()),
        job_base64 in any::<bool>(),
        labels in prop::collection::btree_map(
            label_name().prop_filter("job is taken", |n| n != "job"),
            (any::<String>(), any::<bool>()),
            0..4,
        ),
    ) {
        let write = |name: &str, value: &str, base64: bool| {
            if base64 || value.is_empty() {
                format!("{name}@base64/{}", URL_SAFE_NO_PAD.encode(value))
            } else {
                format!("{name}/{}", utf8_percent_encode(value, NON_ALPHANUMERIC))
            }
        };
        let mut path = write("job", &job, job_base64);
        let mut want = vec![("job".to_owned(), job.clone())];
        for (name, (value, base64)) in &labels {
            path.push('/');
            path.push_str(&write(name, value, *base64));
            want.push((name.clone(), value.clone()));
        }
        let got = parse_grouping_key(&path).map_err(|e| TestCaseError::fail(format!("{e}: {path}")))?;
        prop_assert_eq!(got, want);
    }
}
