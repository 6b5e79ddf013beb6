//! The DORA figures as Prometheus text format 0.0.4: a pure function of a [`Report`].
//!
//! Written by hand rather than through a prometheus-client registry: the label sets differ
//! per scope (`team` and `service` are omitted when a scope has none), absent figures are
//! absent samples rather than zeros, and the whole document is rebuilt on every scrape.
//! The names are the contract of `docs/prometheus.md`; dashboards and recording rules use them.

use crate::app::Report;
use pacer_core::Band;
use pacer_core::engine::Metrics;
use std::fmt::Write;

/// `Content-Type` of the text format this module and [`crate::telemetry`] write.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub const WINDOW_SECONDS: &str = "pacer_dora_window_seconds";
pub const DEPLOYMENTS: &str = "pacer_dora_deployments";
pub const DEPLOYMENT_FREQUENCY_PER_DAY: &str = "pacer_dora_deployment_frequency_per_day";
pub const LEAD_TIME_P50_SECONDS: &str = "pacer_dora_lead_time_p50_seconds";
pub const LEAD_TIME_P90_SECONDS: &str = "pacer_dora_lead_time_p90_seconds";
pub const LEAD_TIME_CHANGES: &str = "pacer_dora_lead_time_changes";
pub const CHANGE_FAILURE_RATE_PERCENT: &str = "pacer_dora_change_failure_rate_percent";
pub const FAILED_DEPLOYMENTS: &str = "pacer_dora_failed_deployments";
pub const TIME_TO_RESTORE_P50_SECONDS: &str = "pacer_dora_time_to_restore_p50_seconds";
pub const TIME_TO_RESTORE_P90_SECONDS: &str = "pacer_dora_time_to_restore_p90_seconds";
pub const TIME_TO_RESTORE_INCIDENTS: &str = "pacer_dora_time_to_restore_incidents";
pub const UNTRIAGED_INCIDENTS: &str = "pacer_dora_untriaged_incidents";
pub const REWORK_RATE_PERCENT: &str = "pacer_dora_rework_rate_percent";
pub const UNPLANNED_DEPLOYMENTS: &str = "pacer_dora_unplanned_deployments";
pub const BAND: &str = "pacer_dora_band";
pub const LOW_CONFIDENCE: &str = "pacer_dora_low_confidence";
pub const METRIC_MISSING: &str = "pacer_dora_metric_missing";

/// Values of the `metric` label.
pub const METRIC_DEPLOYMENT_FREQUENCY: &str = "deployment_frequency";
pub const METRIC_LEAD_TIME: &str = "lead_time";
pub const METRIC_CHANGE_FAILURE_RATE: &str = "change_failure_rate";
pub const METRIC_TIME_TO_RESTORE: &str = "time_to_restore";
pub const METRIC_OVERALL: &str = "overall";

/// Every band, best first: the states of the `pacer_dora_band` state set.
const BANDS: [Band; 4] = [Band::Elite, Band::High, Band::Medium, Band::Low];

/// One scope's figures with its label pairs already escaped and joined
/// (`scope="service",team="payments",service="api"`).
struct Scoped<'a> {
    labels: String,
    metrics: &'a Metrics,
}

/// One sample of a family for one scope: extra labels beyond the scope's, and the value.
type Sample = (Vec<(&'static str, &'static str)>, f64);

/// Writes the DORA families for the organisation, every team and every service in `report`.
/// The figures already carry their bands, so no configuration is needed here.
pub fn encode_report(report: &Report, out: &mut String) {
    let mut scopes = vec![Scoped {
        labels: scope_labels("organization", None, None),
        metrics: &report.organisation,
    }];
    scopes.extend(report.teams.iter().map(|m| Scoped {
        labels: scope_labels("team", m.scope.team.as_deref(), None),
        metrics: m,
    }));
    scopes.extend(report.services.iter().map(|m| Scoped {
        labels: scope_labels(
            "service",
            m.scope.team.as_deref(),
            m.scope.service.as_deref(),
        ),
        metrics: m,
    }));

    header(
        out,
        WINDOW_SECONDS,
        "Length in seconds of the window every pacer_dora figure is computed over (it ends at the scrape)",
    );
    let _ = writeln!(
        out,
        "{WINDOW_SECONDS} {}",
        u64::from(report.window.days) * 86_400
    );

    let one = |v: f64| vec![(Vec::new(), v)];
    let maybe = |v: Option<f64>| v.map(one).unwrap_or_default();
    let count = |n: usize| one(n as f64);

    family(
        out,
        DEPLOYMENTS,
        "Successful production deployments in the window",
        &scopes,
        |m| count(m.deployment_frequency.deployments),
    );
    family(
        out,
        DEPLOYMENT_FREQUENCY_PER_DAY,
        "Successful production deployments in the window per day",
        &scopes,
        |m| one(m.deployment_frequency.per_day),
    );
    family(
        out,
        LEAD_TIME_P50_SECONDS,
        "Median lead time for changes deployed in the window (absent without changes)",
        &scopes,
        |m| maybe(m.lead_time.p50_seconds),
    );
    family(
        out,
        LEAD_TIME_P90_SECONDS,
        "90th percentile lead time for changes deployed in the window (absent without changes)",
        &scopes,
        |m| maybe(m.lead_time.p90_seconds),
    );
    family(
        out,
        LEAD_TIME_CHANGES,
        "Changes whose lead time is in the window's figures",
        &scopes,
        |m| count(m.lead_time.changes),
    );
    family(
        out,
        CHANGE_FAILURE_RATE_PERCENT,
        "Failed deployments per successful production deployment in the window, in percent (absent without deployments)",
        &scopes,
        |m| maybe(m.change_failure_rate.percent),
    );
    family(
        out,
        FAILED_DEPLOYMENTS,
        "Production deployments in the window that caused at least one incident",
        &scopes,
        |m| count(m.change_failure_rate.failed_deployments),
    );
    family(
        out,
        TIME_TO_RESTORE_P50_SECONDS,
        "Median time to restore of production incidents resolved in the window (absent without such incidents)",
        &scopes,
        |m| maybe(m.mttr.p50_seconds),
    );
    family(
        out,
        TIME_TO_RESTORE_P90_SECONDS,
        "90th percentile time to restore of production incidents resolved in the window (absent without such incidents)",
        &scopes,
        |m| maybe(m.mttr.p90_seconds),
    );
    family(
        out,
        TIME_TO_RESTORE_INCIDENTS,
        "Production incidents resolved in the window",
        &scopes,
        |m| count(m.mttr.incidents),
    );
    family(
        out,
        UNTRIAGED_INCIDENTS,
        "Production incidents opened in the window whose caused_by_deploy is unset",
        &scopes,
        |m| count(m.untriaged_incidents),
    );
    family(
        out,
        REWORK_RATE_PERCENT,
        "Unplanned (hotfix, rollback, rule, redeployed sha) per successful production deployment in the window, in percent (absent without deployments)",
        &scopes,
        |m| maybe(m.rework_rate.percent),
    );
    family(
        out,
        UNPLANNED_DEPLOYMENTS,
        "Successful production deployments in the window that were unplanned (rework)",
        &scopes,
        |m| count(m.rework_rate.unplanned_deployments),
    );
    family(
        out,
        BAND,
        "Performance band as a state set: 1 for the current band, 0 for the others; no series while the band is unknown",
        &scopes,
        |m| {
            bands(m)
                .into_iter()
                .filter_map(|(metric, band)| Some((metric, band?)))
                .flat_map(|(metric, current)| {
                    BANDS.into_iter().map(move |b| {
                        (
                            vec![("metric", metric), ("band", b.as_str())],
                            flag(b == current),
                        )
                    })
                })
                .collect()
        },
    );
    family(
        out,
        LOW_CONFIDENCE,
        "1 when the metric is drawn from fewer than 5 samples, so its band says little",
        &scopes,
        |m| {
            [
                (
                    METRIC_DEPLOYMENT_FREQUENCY,
                    m.deployment_frequency.low_confidence,
                ),
                (METRIC_LEAD_TIME, m.lead_time.low_confidence),
                (
                    METRIC_CHANGE_FAILURE_RATE,
                    m.change_failure_rate.low_confidence,
                ),
                (METRIC_TIME_TO_RESTORE, m.mttr.low_confidence),
            ]
            .into_iter()
            .map(|(metric, low)| (vec![("metric", metric)], flag(low)))
            .collect()
        },
    );
    family(
        out,
        METRIC_MISSING,
        "1 when the metric has no value: no samples in the window, or no incident feed for time to restore",
        &scopes,
        |m| {
            [
                // A frequency always has a value: no deployments is 0 per day.
                (METRIC_DEPLOYMENT_FREQUENCY, false),
                (METRIC_LEAD_TIME, m.lead_time.p50_seconds.is_none()),
                (
                    METRIC_CHANGE_FAILURE_RATE,
                    m.change_failure_rate.percent.is_none(),
                ),
                (METRIC_TIME_TO_RESTORE, m.mttr.p50_seconds.is_none()),
            ]
            .into_iter()
            .map(|(metric, missing)| (vec![("metric", metric)], flag(missing)))
            .collect()
        },
    );
}

/// Each banded metric with its band (`None`: unknown, no series).
fn bands(m: &Metrics) -> [(&'static str, Option<Band>); 5] {
    [
        (
            METRIC_DEPLOYMENT_FREQUENCY,
            Some(m.deployment_frequency.band),
        ),
        (METRIC_LEAD_TIME, m.lead_time.band),
        (METRIC_CHANGE_FAILURE_RATE, m.change_failure_rate.band),
        (METRIC_TIME_TO_RESTORE, m.mttr.band),
        (METRIC_OVERALL, m.overall_band),
    ]
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn header(out: &mut String, name: &str, help: &str) {
    // Help texts are constants without backslashes or newlines: nothing to escape.
    let _ = writeln!(out, "# HELP {name} {help}.\n# TYPE {name} gauge");
}

/// One gauge family: HELP and TYPE, then every scope's samples together (the text format
/// wants a family's samples in one block).
fn family(
    out: &mut String,
    name: &str,
    help: &str,
    scopes: &[Scoped<'_>],
    samples: impl Fn(&Metrics) -> Vec<Sample>,
) {
    header(out, name, help);
    for scope in scopes {
        for (extra, value) in samples(scope.metrics) {
            out.push_str(name);
            out.push('{');
            out.push_str(&scope.labels);
            for (key, v) in extra {
                // Extra label values are our own constants, but escape them all the same.
                let _ = write!(out, ",{key}=\"{}\"", escape_label_value(v));
            }
            out.push_str("} ");
            push_value(out, value);
            out.push('\n');
        }
    }
}

/// `scope="..."` then `team` and `service` when the scope has them.
fn scope_labels(scope: &str, team: Option<&str>, service: Option<&str>) -> String {
    let mut labels = format!("scope=\"{scope}\"");
    for (key, value) in [("team", team), ("service", service)] {
        if let Some(v) = value {
            let _ = write!(labels, ",{key}=\"{}\"", escape_label_value(v));
        }
    }
    labels
}

/// A label value as the text format wants it: backslash, double quote and line feed escaped.
pub fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A sample value Prometheus parses back to the same `f64`: Rust's shortest round-trip
/// form, and the text format's spelling of the non-finite values.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_core::engine::{EventSet, compute};
    use pacer_core::{Scope, TeamMap, Timestamp, Window};

    #[test]
    fn escapes_backslash_quote_and_newline_only() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("x\ny"), "x\\ny");
        assert_eq!(escape_label_value("tab\there λ"), "tab\there λ");
    }

    #[test]
    fn values_parse_back_exactly() {
        let mut out = String::new();
        for v in [
            0.1,
            1.0 / 30.0,
            100.0 / 3.0,
            7200.0,
            f64::INFINITY,
            f64::NAN,
        ] {
            push_value(&mut out, v);
            out.push(' ');
        }
        assert_eq!(
            out,
            "0.1 0.03333333333333333 33.333333333333336 7200 +Inf NaN "
        );
    }

    /// A scope with nothing in it: every count 0, every quantile, rate and band absent,
    /// every metric but the frequency missing; labels escaped, `team` omitted.
    #[test]
    fn an_empty_service_scope() {
        let window = Window::new(Timestamp::from_seconds(30 * 86_400), 30);
        let config = pacer_core::MetricsConfig::default();
        let events = EventSet::default();
        let empty = |scope: &Scope| compute(&events, &config, &TeamMap::default(), scope, window);
        let report = Report {
            window,
            organisation: empty(&Scope::organisation()),
            teams: Vec::new(),
            services: vec![empty(&Scope::service("a\"b\\c\nd"))],
        };
        let mut out = String::new();
        encode_report(&report, &mut out);
        let svc = r#"{scope="service",service="a\"b\\c\nd"}"#;
        assert!(out.starts_with("# HELP pacer_dora_window_seconds Length in seconds of the window every pacer_dora figure is computed over (it ends at the scrape).\n# TYPE pacer_dora_window_seconds gauge\npacer_dora_window_seconds 2592000\n"), "{out}");
        for line in [
            format!("pacer_dora_deployments{svc} 0"),
            format!("pacer_dora_deployment_frequency_per_day{svc} 0"),
            format!("pacer_dora_lead_time_changes{svc} 0"),
            format!("pacer_dora_failed_deployments{svc} 0"),
            format!("pacer_dora_time_to_restore_incidents{svc} 0"),
            format!("pacer_dora_untriaged_incidents{svc} 0"),
            format!("pacer_dora_unplanned_deployments{svc} 0"),
            // 0 per day: low; no other band, overall unknown.
            r#"pacer_dora_band{scope="service",service="a\"b\\c\nd",metric="deployment_frequency",band="low"} 1"#.into(),
            r#"pacer_dora_band{scope="service",service="a\"b\\c\nd",metric="deployment_frequency",band="elite"} 0"#.into(),
            r#"pacer_dora_metric_missing{scope="service",service="a\"b\\c\nd",metric="deployment_frequency"} 0"#.into(),
            r#"pacer_dora_metric_missing{scope="service",service="a\"b\\c\nd",metric="lead_time"} 1"#.into(),
            r#"pacer_dora_metric_missing{scope="service",service="a\"b\\c\nd",metric="change_failure_rate"} 1"#.into(),
            r#"pacer_dora_metric_missing{scope="service",service="a\"b\\c\nd",metric="time_to_restore"} 1"#.into(),
            r#"pacer_dora_low_confidence{scope="service",service="a\"b\\c\nd",metric="time_to_restore"} 1"#.into(),
            r#"pacer_dora_deployments{scope="organization"} 0"#.into(),
        ] {
            assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
        }
        for absent in [
            "pacer_dora_lead_time_p50_seconds{",
            "pacer_dora_lead_time_p90_seconds{",
            "pacer_dora_change_failure_rate_percent{",
            "pacer_dora_rework_rate_percent{",
            "pacer_dora_time_to_restore_p50_seconds{",
            "pacer_dora_time_to_restore_p90_seconds{",
            "metric=\"lead_time\",band=",
            "metric=\"overall\"",
        ] {
            assert!(!out.contains(absent), "unexpected {absent:?} in\n{out}");
        }
        // Every family is announced once, samples or not.
        assert_eq!(out.matches("# TYPE ").count(), 17);
    }
}
