//! deploy/grafana/pacer-dora.json: every PromQL expression of the dashboard names only metrics
//! that a live Pacer exposes on GET /metrics or that `pacer rules` records, every panel has a
//! data source, the stat colours follow the default band table, and promtool parses every
//! expression.

use crate::helpers::{TestApp, spawn_app};
use pacer::settings::Settings;
use pacer_core::{Band, BandThresholds};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/grafana/pacer-dora.json"
);
const DATASOURCE_UID: &str = "${DS_PROMETHEUS}";

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD).expect("read the dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every panel, rows' nested panels included (a collapsed row keeps its panels inside it).
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every PromQL expression: panel targets, and the expression inside each query variable
/// (`label_values(EXPR, label)` or `query_result(EXPR)`).
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out: Vec<String> = panels(dashboard)
        .into_iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| {
            t["expr"]
                .as_str()
                .expect("a target without expr")
                .to_string()
        })
        .collect();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] != "query" {
            continue;
        }
        // Grafana stores a query variable's query as a string or as {"query": ...}.
        let query = variable["query"]
            .as_str()
            .or_else(|| variable["query"]["query"].as_str())
            .expect("a query variable without a query");
        out.extend(variable_expression(query));
    }
    out
}

/// The PromQL inside a Grafana Prometheus variable query, if any.
fn variable_expression(query: &str) -> Option<String> {
    let query = query.trim();
    if let Some(args) = query
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // label_values(label) names no metric; label_values(EXPR, label) selects with EXPR.
        return args
            .rsplit_once(',')
            .map(|(expr, _label)| expr.trim().to_string());
    }
    if let Some(expr) = query
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some(expr.to_string());
    }
    Some(query.to_string())
}

/// PromQL words that are not metric names when they are not followed by `(`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Modifiers followed by a parenthesised label list.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: what is left once string literals, label
/// matchers `{..}`, ranges and subqueries `[..]`, label lists of `by`/`without`/`on`/
/// `ignoring`/`group_left`/`group_right`, function names (a name followed by `(`), keywords,
/// numbers and Grafana variables are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // 1. String literals, then braces and brackets (which cannot nest once strings are gone).
    let mut bare = String::new();
    let mut chars = expr.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let quote = c;
                while let Some(d) = chars.next() {
                    match d {
                        '\\' if quote != '`' => {
                            chars.next();
                        }
                        d if d == quote => break,
                        _ => {}
                    }
                }
                bare.push(' ');
            }
            '{' | '[' => {
                depth += 1;
                bare.push(' ');
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => bare.push(c),
        }
    }
    // 2. Words, with what follows each.
    let b = bare.as_bytes();
    let is_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':';
    let is_part = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let next_non_space = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // A number or a duration (1e3, 0x1f, 5m, .5): not a name.
            while i < b.len() && (is_part(b[i]) || b[i] == b'.') {
                i += 1;
            }
        } else if c == b'$' {
            // A Grafana variable ($service, $__rate_interval).
            i += 1;
            while i < b.len() && is_part(b[i]) {
                i += 1;
            }
        } else if is_start(c) {
            let start = i;
            while i < b.len() && is_part(b[i]) {
                i += 1;
            }
            let word = &bare[start..i];
            let after = next_non_space(i);
            if LABEL_LISTS.contains(&word) && b.get(after) == Some(&b'(') {
                // Skip the label list up to its closing parenthesis.
                i = after
                    + bare[after..]
                        .find(')')
                        .map_or(bare.len() - after, |j| j + 1);
            } else if b.get(after) == Some(&b'(') || KEYWORDS.contains(&word) {
                // A function or aggregation, or a keyword.
            } else {
                names.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    names
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_extractor_finds_exactly_the_metric_names() {
    for (expr, expected) in [
        (
            r#"sum by (service, team) (pacer_dora_metric_missing{scope="service"})"#,
            &["pacer_dora_metric_missing"][..],
        ),
        (
            r#"max by (service, x) (label_replace(pacer_dora_band{metric="lead_time"} == 1, "x", "$1", "band", "(.*)"))"#,
            &["pacer_dora_band"][..],
        ),
        (
            r#"histogram_quantile(0.99, sum without (instance) (rate(http_seconds_bucket{route=~"/api/.+"}[$__rate_interval])))"#,
            &["http_seconds_bucket"][..],
        ),
        (
            "a / on (service) group_left (team) b offset 1h > bool 1e3",
            &["a", "b"][..],
        ),
        (
            "max_over_time(dora:mttr_seconds:p50[1d:5m]) or vector(0)",
            &["dora:mttr_seconds:p50"][..],
        ),
        (
            "count(up{job=\"x\"}) by (job) unless absent_thing",
            &["up", "absent_thing"][..],
        ),
        (
            r#"label_replace(x, "dst", "y{z}", "src", "(\"quoted\")") and y"#,
            &["x", "y"][..],
        ),
        (
            "sum(rate(foo[5m] @ end())) - -bar * .5 + 0x1F",
            &["foo", "bar"][..],
        ),
        ("topk(5, sum by(le)(x))", &["x"][..]),
        (r#"z{service="$service"} / ${divisor}"#, &["z"][..]),
    ] {
        assert_eq!(metric_names(expr), set(expected), "{expr}");
    }
    assert_eq!(
        variable_expression(r#"label_values(pacer_dora_deployments{scope="service"}, service)"#)
            .as_deref(),
        Some(r#"pacer_dora_deployments{scope="service"}"#)
    );
    assert_eq!(variable_expression("label_values(service)"), None);
}

/// Records a small history through the JSON API (deployments with changes, a resolved
/// incident caused by a deploy, an open untriaged one, one refused delivery) so that every
/// family has samples, then scrapes GET /metrics: the sample names and `# TYPE` names.
async fn live_metric_names(app: &TestApp) -> BTreeSet<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let ago = |hours: i64| now - hours * 3600;
    for body in [
        json!({"id": "d1", "service": "api", "environment": "production", "team": "payments",
               "deployed_at": ago(48), "changes": [{"id": "c1", "started_at": ago(50)}]}),
        json!({"id": "d2", "service": "web", "environment": "production",
               "deployed_at": ago(24), "lead_time_seconds": 1800}),
    ] {
        let a = app.deploy(body).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    for body in [
        json!({"id": "i1", "service": "api", "opened_at": ago(47), "resolved_at": ago(46),
               "caused_by_deploy": true}),
        json!({"id": "i2", "service": "web", "opened_at": ago(20)}),
    ] {
        let a = app.incident(body).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let refused = app.deploy(json!({"environment": "production"})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    let scrape = app.get("/metrics").await;
    assert_eq!(scrape.status, 200, "{}", scrape.text);
    let mut names = BTreeSet::new();
    for line in scrape.text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            names.insert(rest.split(' ').next().unwrap_or_default().to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// The record names of `pacer rules` with the default settings.
fn record_names() -> BTreeSet<String> {
    let rules = pacer::rules::render(&Settings::default()).expect("rules");
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn every_dashboard_query_names_an_exported_metric_or_a_recorded_one() {
    let app = spawn_app().await;
    let exported = live_metric_names(&app).await;
    let recorded = record_names();
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    // The scrape found the families the dashboard is built on (the check below would pass
    // trivially on an empty scrape otherwise).
    for family in [
        "pacer_dora_deployments",
        "pacer_dora_lead_time_p50_seconds",
        "pacer_dora_time_to_restore_p50_seconds",
        "pacer_http_request_duration_seconds_bucket",
        "pacer_events_refused_total",
    ] {
        assert!(exported.contains(family), "{family} not in {exported:?}");
    }

    let dashboard = dashboard();
    let expressions = expressions(&dashboard);
    let mut used = BTreeSet::new();
    let mut unknown = Vec::new();
    for expr in &expressions {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric name found in {expr}");
        for name in names {
            if !exported.contains(&name) && !recorded.contains(&name) {
                unknown.push(format!("{name} (in {expr})"));
            }
            used.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics that neither /metrics nor `pacer rules` provide:\n{}",
        unknown.join("\n")
    );
    // The walk reached the collapsed row's nested panels and the templating query.
    for name in [
        "pacer_http_request_duration_seconds_bucket",
        "pacer_build_info",
        "pacer_dora_deployments",
        "pacer_dora_metric_missing",
        "pacer_dora_band",
    ] {
        assert!(
            used.contains(name),
            "the dashboard never queries {name}: {used:?}"
        );
    }
    // And the check itself can fail: a misspelt family is neither exported nor recorded.
    let typo = metric_names("pacer_dora_deployment_frequency{scope=\"organization\"}");
    assert!(
        typo.iter()
            .all(|n| !exported.contains(n) && !recorded.contains(n))
    );
}

#[test]
fn every_panel_has_the_prometheus_data_source() {
    let dashboard = dashboard();
    assert!(
        dashboard["schemaVersion"].as_u64() >= Some(36),
        "{}",
        dashboard["schemaVersion"]
    );
    let expected = json!({"type": "prometheus", "uid": DATASOURCE_UID});
    let all = panels(&dashboard);
    assert!(all.len() >= 20, "only {} panels", all.len());
    for panel in &all {
        assert_eq!(panel["datasource"], expected, "panel {}", panel["title"]);
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(
                target["datasource"], expected,
                "a target of {}",
                panel["title"]
            );
        }
    }
    let ids: Vec<_> = all
        .iter()
        .map(|p| p["id"].as_u64().expect("panel id"))
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "panel ids repeat"
    );
    // The data source is a variable, so the same JSON imports anywhere and provisions too.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    let ds = variables
        .iter()
        .find(|v| v["name"] == "DS_PROMETHEUS")
        .expect("a DS_PROMETHEUS variable");
    assert_eq!(
        (&ds["type"], &ds["query"]),
        (&json!("datasource"), &json!("prometheus"))
    );
    let service = variables
        .iter()
        .find(|v| v["name"] == "service")
        .expect("a service variable");
    assert_eq!(service["datasource"], expected);
    assert_eq!(
        service["query"]["query"],
        r#"label_values(pacer_dora_deployments{scope="service"}, service)"#
    );
}

/// The colour a Grafana threshold list gives `value`: the last step whose value is at most
/// `value` (the first step, with a null value, is the base).
fn grafana_colour(steps: &[Value], value: f64) -> &str {
    steps
        .iter()
        .rev()
        .find(|s| s["value"].as_f64().is_none_or(|v| v <= value))
        .and_then(|s| s["color"].as_str())
        .expect("a base step")
}

/// A metric's band function.
type BandOf = fn(&BandThresholds, f64) -> Band;

#[test]
fn the_stat_colours_follow_the_default_band_table() {
    let colour = |band: Band| match band {
        Band::Elite => "dark-green",
        Band::High => "green",
        Band::Medium => "orange",
        Band::Low => "red",
    };
    let b = BandThresholds::default();
    // Each gauge, its band function and the edges of its default bands (docs/metrics.md).
    let metrics: [(&str, BandOf, [f64; 3]); 4] = [
        (
            "pacer_dora_deployment_frequency_per_day",
            BandThresholds::deployment_frequency,
            [1.0, 1.0 / 30.0, 1.0 / 182.5],
        ),
        (
            "pacer_dora_lead_time_p50_seconds",
            BandThresholds::lead_time,
            [3600.0, 7.0 * 86400.0, 30.0 * 86400.0],
        ),
        (
            "pacer_dora_change_failure_rate_percent",
            BandThresholds::change_failure_rate,
            [5.0, 10.0, 15.0],
        ),
        (
            "pacer_dora_time_to_restore_p50_seconds",
            BandThresholds::mttr,
            [3600.0, 86400.0, 7.0 * 86400.0],
        ),
    ];
    let dashboard = dashboard();
    let stats: Vec<&Value> = panels(&dashboard)
        .into_iter()
        .filter(|p| p["type"] == "stat")
        .collect();
    for (gauge, band, edges) in metrics {
        let mine: Vec<&&Value> = stats
            .iter()
            .filter(|p| {
                p["targets"][0]["expr"]
                    .as_str()
                    .is_some_and(|e| e.starts_with(gauge))
            })
            .collect();
        // One for the organization, one for the selected service.
        assert_eq!(mine.len(), 2, "stat panels on {gauge}");
        for panel in mine {
            let steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .expect("threshold steps");
            // On each edge, just below and just above it, and far from all of them.
            let mut probes = vec![0.0, 1e9];
            for edge in edges {
                probes.extend([edge, edge * (1.0 - 1e-6), edge * (1.0 + 1e-5)]);
            }
            for value in probes {
                assert_eq!(
                    grafana_colour(steps, value),
                    colour(band(&b, value)),
                    "{} at {value}",
                    panel["title"]
                );
            }
        }
    }
}

/// promtool parses every expression (Grafana variables replaced by example values), as the
/// body of a recording rule.
#[test]
fn promtool_parses_every_dashboard_expression() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in expressions(&dashboard()).iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$service", "api");
        rules.push_str(&format!(
            "      - record: dashboard:expr{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = match Command::new("promtool")
        .args(["check", "rules"])
        .arg(Path::new(&file))
        .output()
    {
        Ok(out) => out,
        Err(_) => panic!(
            "install Debian's prometheus package (apt-get install prometheus): promtool checks the dashboard's queries"
        ),
    };
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("SUCCESS"),
        "{text}\n{rules}"
    );
}
