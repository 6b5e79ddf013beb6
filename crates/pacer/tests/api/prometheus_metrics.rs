//! GET /metrics: the DORA gauges of every scope and Pacer's own metrics, in Prometheus text
//! format 0.0.4, read back with a small parser of our own and checked by `promtool`.

use crate::helpers::{Answer, TestApp, settings_with_teams, spawn_app_with};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// The wall clock in Unix seconds: `/metrics` has no `end`, its window ends at the scrape.
fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// One sample line, label values unescaped.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the sample lines of a text-format document (comments skipped). Strict enough to
/// fail on a badly escaped label value: it reads escapes one character at a time.
fn parse(body: &str) -> Vec<Sample> {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_line(l).unwrap_or_else(|e| panic!("cannot parse {l:?}: {e}")))
        .collect()
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after_brace) = rest.strip_prefix('{') {
        let mut chars = after_brace.char_indices();
        loop {
            // key="value" then `,` or `}`.
            let mut key = String::new();
            let close = loop {
                match chars.next().ok_or("unterminated label set")? {
                    (i, '}') if key.is_empty() => break Some(i),
                    (_, '=') => break None,
                    (_, c) => key.push(c),
                }
            };
            if let Some(i) = close {
                rest = &after_brace[i + 1..];
                break;
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} value does not start with a quote"));
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("dangling backslash")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("unknown escape \\{c}")),
                    },
                    '\n' => return Err("raw newline in a label value".into()),
                    c => value.push(c),
                }
            }
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            match chars.next().ok_or("unterminated label set")? {
                (_, ',') => {}
                (i, '}') => {
                    rest = &after_brace[i + 1..];
                    break;
                }
                (_, c) => return Err(format!("unexpected {c:?} after a label")),
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|e| format!("value {v:?}: {e}"))?,
    };
    Ok(Sample {
        name,
        labels,
        value,
    })
}

fn label_set(labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of the one sample with exactly these labels, if any.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want = label_set(labels);
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {want:?} appears {} times",
        found.len()
    );
    found.first().copied()
}

const BANDS: [&str; 4] = ["elite", "high", "medium", "low"];
const BANDED: [&str; 5] = [
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "time_to_restore",
    "overall",
];
const METRICS: [&str; 4] = [
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "time_to_restore",
];

/// Every DORA figure of one scope, as the exposition must show it.
struct Expect {
    deployments: f64,
    per_day: f64,
    changes: f64,
    /// Lead time p50, p90 (`None`: no samples).
    lead_time: Option<(f64, f64)>,
    cfr_percent: Option<f64>,
    failed: f64,
    incidents: f64,
    /// Time to restore p50, p90.
    restore: Option<(f64, f64)>,
    untriaged: f64,
    /// Bands in the order of [`BANDED`].
    bands: [Option<&'static str>; 5],
    /// Low confidence in the order of [`METRICS`].
    low_confidence: [bool; 4],
}

fn check_scope(samples: &[Sample], scope: &[(&str, &str)], e: &Expect) {
    let at = |name: &str| value(samples, name, scope);
    let ctx = format!("{scope:?}");
    assert_eq!(at("pacer_dora_deployments"), Some(e.deployments), "{ctx}");
    assert_eq!(
        at("pacer_dora_deployment_frequency_per_day"),
        Some(e.per_day),
        "{ctx}"
    );
    assert_eq!(at("pacer_dora_lead_time_changes"), Some(e.changes), "{ctx}");
    assert_eq!(
        at("pacer_dora_lead_time_p50_seconds"),
        e.lead_time.map(|l| l.0),
        "{ctx}"
    );
    assert_eq!(
        at("pacer_dora_lead_time_p90_seconds"),
        e.lead_time.map(|l| l.1),
        "{ctx}"
    );
    assert_eq!(
        at("pacer_dora_change_failure_rate_percent"),
        e.cfr_percent,
        "{ctx}"
    );
    assert_eq!(at("pacer_dora_failed_deployments"), Some(e.failed), "{ctx}");
    assert_eq!(
        at("pacer_dora_time_to_restore_incidents"),
        Some(e.incidents),
        "{ctx}"
    );
    assert_eq!(
        at("pacer_dora_time_to_restore_p50_seconds"),
        e.restore.map(|r| r.0),
        "{ctx}"
    );
    assert_eq!(
        at("pacer_dora_time_to_restore_p90_seconds"),
        e.restore.map(|r| r.1),
        "{ctx}"
    );
    assert_eq!(
        at("pacer_dora_untriaged_incidents"),
        Some(e.untriaged),
        "{ctx}"
    );
    // The band state set: four series with exactly one 1, or none while the band is unknown.
    for (metric, band) in BANDED.iter().zip(e.bands) {
        let states: Vec<(&str, Option<f64>)> = BANDS
            .iter()
            .map(|b| {
                let mut labels = scope.to_vec();
                labels.extend([("metric", *metric), ("band", *b)]);
                (*b, value(samples, "pacer_dora_band", &labels))
            })
            .collect();
        match band {
            None => assert!(
                states.iter().all(|(_, v)| v.is_none()),
                "{ctx} {metric}: {states:?}"
            ),
            Some(current) => {
                for (b, v) in &states {
                    let want = if *b == current { 1.0 } else { 0.0 };
                    assert_eq!(*v, Some(want), "{ctx} {metric} band {b}");
                }
            }
        }
    }
    let missing = [
        false,
        e.lead_time.is_none(),
        e.cfr_percent.is_none(),
        e.restore.is_none(),
    ];
    for (i, metric) in METRICS.iter().enumerate() {
        let mut labels = scope.to_vec();
        labels.push(("metric", metric));
        let flag = |b: bool| Some(if b { 1.0 } else { 0.0 });
        assert_eq!(
            value(samples, "pacer_dora_low_confidence", &labels),
            flag(e.low_confidence[i]),
            "{ctx} low confidence {metric}"
        );
        assert_eq!(
            value(samples, "pacer_dora_metric_missing", &labels),
            flag(missing[i]),
            "{ctx} missing {metric}"
        );
    }
}

/// A service with a quote and a backslash in its name (sent through the API) and one with
/// a line feed (only configuration can name it: the API refuses control characters).
const ODD_SERVICE: &str = r#"q"uo\te"#;
const NEWLINE_SERVICE: &str = "new\nline";
const ODD_TEAM: &str = r#"te"am"#;

/// Settings for [`record_history`]: web belongs to storefront by configuration.
fn settings() -> pacer::settings::Settings {
    settings_with_teams(&[("web", "storefront"), (NEWLINE_SERVICE, ODD_TEAM)])
}

fn created(a: &Answer, what: &str) {
    assert_eq!(a.status, 201, "{what}: {}", a.body);
}

/// Records a small history relative to `now` (`h(x)`: x hours before now), every event
/// well inside the 30-day window that ends at the scrape, except `da0`. By hand:
///
/// - api (team payments, named by da1): production deploys da1 (c1 3600 s, c2 7200 s),
///   da2 (`prod`, precomputed 1800 s) and da3 (carries c1 again: c1 counts only in da1);
///   da4 failed, da5 staging, da0 31 days ago: none counts. Incidents: i1 caused by da1
///   (restored in 1800 s), i2 restored in 7200 s then triaged not caused, i4 open and
///   untriaged.
/// - web (team storefront, by configuration): dw1 (w1 7200 s, w2 14400 s), dw2 (600 s);
///   i3 caused by dw1, restored in 5400 s.
/// - jobs (team payments): dj1 with no changes; no incidents.
/// - `q"uo\te` (no team): a staging deploy only. `new\nline` (team `te"am`): configured,
///   never deployed.
async fn record_history(app: &TestApp) {
    let now = now_seconds();
    let h = |hours: f64| now - (hours * 3600.0) as i64;
    let deployments = [
        json!({"id": "da1", "service": "api", "environment": "production", "team": "payments",
               "deployed_at": h(100.0),
               "changes": [{"id": "c1", "started_at": h(101.0)}, {"id": "c2", "started_at": h(102.0)}]}),
        json!({"id": "da2", "service": "api", "environment": "prod", "deployed_at": h(50.0),
               "lead_time_seconds": 1800}),
        json!({"id": "da3", "service": "api", "environment": "production", "deployed_at": h(20.0),
               "changes": [{"id": "c1", "started_at": h(101.0)}]}),
        json!({"id": "da4", "service": "api", "environment": "production", "status": "failure",
               "deployed_at": h(10.0)}),
        json!({"id": "da5", "service": "api", "environment": "staging", "deployed_at": h(5.0)}),
        json!({"id": "da0", "service": "api", "environment": "production", "deployed_at": h(31.0 * 24.0),
               "lead_time_seconds": 60}),
        json!({"id": "dw1", "service": "web", "environment": "production", "deployed_at": h(200.0),
               "changes": [{"id": "w1", "started_at": h(202.0)}, {"id": "w2", "started_at": h(204.0)}]}),
        json!({"id": "dw2", "service": "web", "environment": "production", "deployed_at": h(40.0),
               "lead_time_seconds": 600}),
        json!({"id": "dj1", "service": "jobs", "environment": "production", "team": "payments",
               "deployed_at": h(60.0)}),
        json!({"id": "dq1", "service": ODD_SERVICE, "environment": "staging", "deployed_at": h(30.0)}),
    ];
    for d in deployments {
        created(&app.deploy(d.clone()).await, &d.to_string());
    }
    // A re-delivery: 200, not a new event.
    let again = app
        .deploy(
            json!({"id": "da1", "service": "api", "environment": "production",
                       "deployed_at": h(100.0)}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);

    let incidents = [
        json!({"id": "i1", "service": "api", "opened_at": h(99.5), "resolved_at": h(99.0),
               "caused_by_deploy": true}),
        json!({"id": "i2", "service": "api", "opened_at": h(19.0), "resolved_at": h(17.0)}),
        json!({"id": "i3", "service": "web", "opened_at": h(150.0), "resolved_at": h(148.5),
               "caused_by_deploy": true}),
        json!({"id": "i4", "service": "api", "opened_at": h(2.0)}),
    ];
    for i in incidents {
        created(&app.incident(i.clone()).await, &i.to_string());
    }
    // An update of a known incident (200) and a triage.
    let update = app
        .incident(json!({"id": "i1", "severity": "SEV1", "opened_at": h(99.5)}))
        .await;
    assert_eq!(update.status, 200, "{}", update.body);
    let triage = app
        .patch("/api/v1/incidents/i2", &json!({"caused_by_deploy": false}))
        .await;
    assert_eq!(triage.status, 200, "{}", triage.body);
}

async fn scrape(app: &TestApp) -> String {
    let a = app.get("/metrics").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    a.text
}

#[tokio::test]
async fn dora_gauges_of_a_known_history() {
    let app = spawn_app_with(settings()).await;
    record_history(&app).await;
    let samples = parse(&scrape(&app).await);

    // 30 days.
    assert_eq!(
        value(&samples, "pacer_dora_window_seconds", &[]),
        Some(2_592_000.0)
    );

    // api: da1, da2, da3 in 30 days: 0.1 per day (high: >= 1/30). Lead times
    // [1800, 3600, 7200]: p50 = 3600 (high: not under 1 h); p90: h = 0.9*2 = 1.8,
    // 3600 + 0.8*(7200-3600) = 6480. da1 failed (i1): 1 of 3 = 33.33...% (low). Restore
    // [1800, 7200]: p50 = 4500 (high), p90 = 1800 + 0.9*5400 = 6660. i4 untriaged. Overall
    // = worst = low. Every sample count is under 5.
    let api = Expect {
        deployments: 3.0,
        per_day: 0.1,
        changes: 3.0,
        lead_time: Some((3600.0, 6480.0)),
        cfr_percent: Some(1.0 / 3.0 * 100.0),
        failed: 1.0,
        incidents: 2.0,
        restore: Some((4500.0, 6660.0)),
        untriaged: 1.0,
        bands: [
            Some("high"),
            Some("high"),
            Some("low"),
            Some("high"),
            Some("low"),
        ],
        low_confidence: [true, true, true, true],
    };
    check_scope(
        &samples,
        &[
            ("scope", "service"),
            ("team", "payments"),
            ("service", "api"),
        ],
        &api,
    );

    // web: 2 deploys: 2/30 per day (high). Lead [600, 7200, 14400]: p50 7200, p90 =
    // 7200 + 0.8*7200 = 12960 (high). dw1 failed (i3): 50% (low). Restore [5400]: 5400,
    // 5400 (high). Overall low.
    let web = Expect {
        deployments: 2.0,
        per_day: 2.0 / 30.0,
        changes: 3.0,
        lead_time: Some((7200.0, 12960.0)),
        cfr_percent: Some(50.0),
        failed: 1.0,
        incidents: 1.0,
        restore: Some((5400.0, 5400.0)),
        untriaged: 0.0,
        bands: [
            Some("high"),
            Some("high"),
            Some("low"),
            Some("high"),
            Some("low"),
        ],
        low_confidence: [true, true, true, true],
    };
    check_scope(
        &samples,
        &[
            ("scope", "service"),
            ("team", "storefront"),
            ("service", "web"),
        ],
        &web,
    );
    // The team is its one service.
    check_scope(&samples, &[("scope", "team"), ("team", "storefront")], &web);

    // jobs: 1 deploy = exactly 1/30 per day, the high band's edge (>=). No changes: lead
    // time missing, no band. 0 of 1 failed: 0% (elite). No incident of its own although
    // the incident feed exists: time to restore missing. Overall unknown.
    let jobs = Expect {
        deployments: 1.0,
        per_day: 1.0 / 30.0,
        changes: 0.0,
        lead_time: None,
        cfr_percent: Some(0.0),
        failed: 0.0,
        incidents: 0.0,
        restore: None,
        untriaged: 0.0,
        bands: [Some("high"), None, Some("elite"), None, None],
        low_confidence: [true, true, true, true],
    };
    check_scope(
        &samples,
        &[
            ("scope", "service"),
            ("team", "payments"),
            ("service", "jobs"),
        ],
        &jobs,
    );

    // payments = api + jobs: 4 deploys, 4/30 per day (high); lead times are api's; 1 of 4
    // failed: 25% (low); restore as api; overall low.
    let payments = Expect {
        deployments: 4.0,
        per_day: 4.0 / 30.0,
        cfr_percent: Some(25.0),
        ..api
    };
    check_scope(
        &samples,
        &[("scope", "team"), ("team", "payments")],
        &payments,
    );

    // Nothing counts for the odd names: no production deploys (0 per day: low), everything
    // else missing. The service without a team has no team label at all.
    let nothing = Expect {
        deployments: 0.0,
        per_day: 0.0,
        changes: 0.0,
        lead_time: None,
        cfr_percent: None,
        failed: 0.0,
        incidents: 0.0,
        restore: None,
        untriaged: 0.0,
        bands: [Some("low"), None, None, None, None],
        low_confidence: [true, true, true, true],
    };
    check_scope(
        &samples,
        &[("scope", "service"), ("service", ODD_SERVICE)],
        &nothing,
    );
    check_scope(
        &samples,
        &[
            ("scope", "service"),
            ("team", ODD_TEAM),
            ("service", NEWLINE_SERVICE),
        ],
        &nothing,
    );
    check_scope(&samples, &[("scope", "team"), ("team", ODD_TEAM)], &nothing);

    // Organisation: 6 deploys, 0.2 per day (high). Lead [600, 1800, 3600, 7200, 7200,
    // 14400]: p50: h = 2.5, 3600 + 0.5*3600 = 5400; p90: h = 4.5, 7200 + 0.5*7200 = 10800
    // (high). da1 and dw1 failed: 2 of 6 = 33.33...% (low). Restore [1800, 5400, 7200]:
    // p50 5400 (high), p90: h = 1.8, 5400 + 0.8*1800 = 6840. i4 untriaged. Overall low.
    // Six deploys and six changes are enough for confidence; three incidents are not.
    let organisation = Expect {
        deployments: 6.0,
        per_day: 0.2,
        changes: 6.0,
        lead_time: Some((5400.0, 10800.0)),
        cfr_percent: Some(2.0 / 6.0 * 100.0),
        failed: 2.0,
        incidents: 3.0,
        restore: Some((5400.0, 6840.0)),
        untriaged: 1.0,
        bands: [
            Some("high"),
            Some("high"),
            Some("low"),
            Some("high"),
            Some("low"),
        ],
        low_confidence: [false, false, false, true],
    };
    check_scope(&samples, &[("scope", "organization")], &organisation);

    // Exactly these scopes, with the odd names round-tripped through the escaping.
    let mut services: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "pacer_dora_deployments" && s.labels["scope"] == "service")
        .map(|s| s.labels["service"].as_str())
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        ["api", "jobs", NEWLINE_SERVICE, ODD_SERVICE, "web"]
    );
    let mut teams: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "pacer_dora_deployments" && s.labels["scope"] == "team")
        .map(|s| s.labels["team"].as_str())
        .collect();
    teams.sort_unstable();
    assert_eq!(teams, ["payments", "storefront", ODD_TEAM]);
}

#[tokio::test]
async fn operational_counters_move() {
    let app = spawn_app_with(settings()).await;
    record_history(&app).await;

    // Refused: a bad value and a missing field on ingest routes, a push that is not an
    // exposition. Not refusals: a bad query on a read route, an unknown path.
    let bad = app
        .deploy(json!({"service": "api", "environment": "production", "status": "maybe"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["code"], "invalid_field");
    let missing = app.deploy(json!({"environment": "production"})).await;
    assert_eq!(missing.body["code"], "missing_field", "{}", missing.body);
    let read = app.get("/api/v1/deployments?status=maybe").await;
    assert_eq!(read.status, 400, "{}", read.body);
    let push = app
        .send(
            "PUT",
            "/metrics/job/deploy",
            Some(b"this is not an exposition\n".to_vec()),
        )
        .await;
    assert!((400..500).contains(&push.status), "{}", push.text);
    let push_code = push.body["code"].as_str().expect("push error code");
    let lost = app.get("/no/such/path").await;
    assert_eq!(lost.status, 404);
    let one = app.get("/api/v1/deployments/da1").await;
    assert_eq!(one.status, 200);

    let body = scrape(&app).await;
    let samples = parse(&body);
    let counter = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);

    // record_history: 10 deployments created (the re-delivery of da1 is not new); 4
    // incidents created and 1 updated; 1 triage.
    let ingested = "pacer_events_ingested_total";
    assert_eq!(
        counter(ingested, &[("source", "api"), ("kind", "deployment")]),
        Some(10.0)
    );
    assert_eq!(
        counter(ingested, &[("source", "api"), ("kind", "incident")]),
        Some(5.0)
    );
    assert_eq!(
        counter(ingested, &[("source", "api"), ("kind", "triage")]),
        Some(1.0)
    );
    let refused = "pacer_events_refused_total";
    assert_eq!(
        counter(refused, &[("source", "api"), ("reason", "invalid_field")]),
        Some(1.0),
        "the bad query on a read route is not an ingest refusal"
    );
    assert_eq!(
        counter(refused, &[("source", "api"), ("reason", "missing_field")]),
        Some(1.0)
    );
    assert_eq!(
        counter(refused, &[("source", "pushgateway"), ("reason", push_code)]),
        Some(1.0)
    );
    let refusals: f64 = samples
        .iter()
        .filter(|s| s.name == refused)
        .map(|s| s.value)
        .sum();
    assert_eq!(refusals, 3.0);

    // Durations by route template, never the raw path with an id.
    let count = "pacer_http_request_duration_seconds_count";
    let route = |method: &str, route: &str, status: &str| {
        counter(
            count,
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(route("GET", "/api/v1/deployments/{id}", "200"), Some(1.0));
    assert_eq!(route("PATCH", "/api/v1/incidents/{id}", "200"), Some(1.0));
    // 10 created, 1 re-delivered; 2 refused.
    assert_eq!(route("POST", "/api/v1/deployments", "201"), Some(10.0));
    assert_eq!(route("POST", "/api/v1/deployments", "200"), Some(1.0));
    assert_eq!(route("POST", "/api/v1/deployments", "400"), Some(2.0));
    assert_eq!(route("GET", "unmatched", "404"), Some(1.0));
    let routes: std::collections::BTreeSet<&str> = samples
        .iter()
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    for r in &routes {
        assert!(
            *r == "unmatched" || (r.starts_with('/') && !r.contains("da1") && !r.contains("i2")),
            "route label {r:?}"
        );
    }
    assert!(routes.contains("/metrics/{*grouping}"), "{routes:?}");
    // Cumulative buckets: +Inf holds every observation.
    let labels = [
        ("method", "POST"),
        ("route", "/api/v1/deployments"),
        ("status", "201"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        counter("pacer_http_request_duration_seconds_bucket", &labels),
        Some(10.0)
    );
    assert_eq!(
        counter(
            "pacer_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    // The scrape itself shows up on the next one.
    let again = parse(&scrape(&app).await);
    assert_eq!(
        value(
            &again,
            count,
            &[("method", "GET"), ("route", "/metrics"), ("status", "200")]
        ),
        Some(1.0)
    );
}

/// `promtool check metrics` on `body`: its exit code and what it printed.
fn promtool(body: &str) -> (i32, String) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "install Debian's prometheus package (apt-get install prometheus): promtool checks /metrics"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn exposition_passes_promtool() {
    let app = spawn_app_with(settings()).await;
    record_history(&app).await;
    // Every operational family gets samples, including a refusal.
    app.deploy(json!({"service": "api", "environment": "production", "status": "maybe"}))
        .await;
    let body = scrape(&app).await;

    // Exit code 0 and nothing printed: the document parses and no lint applies.
    let (code, output) = promtool(&body);
    assert_eq!((code, output.as_str()), (0, ""), "promtool said:\n{output}");
    assert!(body.contains("pacer_dora_deployments{"));
    assert!(body.contains("pacer_events_refused_total{"));

    // And promtool does notice a broken document (the check can fail).
    let (code, output) = promtool(&format!("{body}pacer_dora_deployments{{scope=\"x}} 1\n"));
    assert_ne!(code, 0, "{output}");
}

/// What a user reads on /metrics for the known history, less the request timings (they
/// vary run to run) and the version. Every figure is a difference of event times, so it
/// does not depend on when the test runs.
#[tokio::test]
async fn exposition_snapshot() {
    let app = spawn_app_with(settings()).await;
    record_history(&app).await;
    let body = scrape(&app).await;
    let mut stable: Vec<String> = Vec::new();
    // prometheus-client keeps a family's series in a hash map: sort each run of our
    // counters' samples so the order does not change run to run.
    let mut counters: Vec<String> = Vec::new();
    for line in body.lines() {
        if line.starts_with("pacer_events_") {
            counters.push(line.to_string());
            continue;
        }
        counters.sort();
        stable.append(&mut counters);
        if line.starts_with("pacer_http_request_duration_seconds") {
            continue;
        }
        stable.push(if line.starts_with("pacer_build_info{") {
            "pacer_build_info{version=\"[version]\"} 1".to_string()
        } else {
            line.to_string()
        });
    }
    counters.sort();
    stable.append(&mut counters);
    insta::assert_snapshot!("known_history", stable.join("\n"));
}
