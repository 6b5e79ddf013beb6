//! View models: the dashboard's figures, formatted for people. Every number comes from
//! [`crate::present::metrics_json`], the same shape `/api/v1/metrics` answers, so the page
//! and the JSON API cannot disagree.

use crate::present::MetricsJson;
use pacer_core::Band;

/// The metrics the overview shows as tiles, in order.
pub const TILE_KEYS: [&str; 5] = [
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "mttr",
    "rework_rate",
];

/// One metric tile.
pub struct Tile {
    /// The metric's key in the JSON API (`data-metric`).
    pub key: &'static str,
    pub label: &'static str,
    /// The figure for people; `None`: missing (see `missing_reason`).
    pub value: Option<String>,
    /// The JSON API's number exactly (`data-value`), empty when missing.
    pub raw: String,
    /// A second line, e.g. the 90th percentile.
    pub detail: Option<String>,
    pub band: Option<&'static str>,
    pub samples: usize,
    pub sample_label: &'static str,
    pub low_confidence: bool,
    pub missing_reason: Option<String>,
    /// The change against the previous window, in words.
    pub change: String,
    /// `better`, `worse` or `same` (a CSS class; the text says it too).
    pub trend: &'static str,
    pub hint: Option<String>,
}

/// Which direction is better for a metric.
fn higher_is_better(key: &str) -> bool {
    key == "deployment_frequency"
}

/// One metric's number in the JSON shape, `None` when missing.
pub fn figure(m: &MetricsJson, key: &str) -> Option<f64> {
    match key {
        "deployment_frequency" => {
            (m.deployment_frequency.deployments > 0).then_some(m.deployment_frequency.per_day)
        }
        "lead_time" => m.lead_time.p50_seconds,
        "change_failure_rate" => m.change_failure_rate.percent,
        "mttr" => m.mttr.p50_seconds,
        "rework_rate" => m.rework_rate.percent,
        _ => None,
    }
}

/// The figure formatted for people.
pub fn format_figure(key: &str, v: f64) -> String {
    match key {
        "deployment_frequency" => format_per_day(v),
        "lead_time" | "mttr" => duration(v),
        _ => format!("{v:.1} %"),
    }
}

pub fn format_per_day(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.2} / day")
    } else {
        format!("{:.2} / week", v * 7.0)
    }
}

/// A duration in the two largest units that matter: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{m} min")
    } else if s < 86_400 {
        if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else if h == 0 {
        format!("{d} d")
    } else {
        format!("{d} d {h} h")
    }
}

fn band_str(b: Option<Band>) -> Option<&'static str> {
    b.map(Band::as_str)
}

/// Why a metric has no figure, in words a team lead can act on.
pub fn missing_reason(m: &MetricsJson, key: &str, anything_recorded: bool) -> Option<String> {
    if figure(m, key).is_some() {
        return None;
    }
    {
        let no_deploys = if anything_recorded {
            "no successful production deployment in this window"
        } else {
            "no deployment has been recorded yet: send them with POST /api/v1/deployments, a CI \
             webhook or `pacer deployment record`"
        };
        Some(match key {
            "deployment_frequency" => no_deploys.to_string(),
            "lead_time" if m.deployment_frequency.deployments == 0 => {
                format!("{no_deploys}, so no change reached production")
            }
            "lead_time" => format!(
                "the {} production deployment(s) in this window carry no change data: send \
                 changes (or lead_time_seconds) with each deployment, or record them with \
                 `pacer deployment record --repo`",
                m.deployment_frequency.deployments
            ),
            "change_failure_rate" | "rework_rate" => {
                format!("{no_deploys}: the rate needs at least one deployment")
            }
            "mttr" => m
                .mttr
                .missing_reason
                .clone()
                .unwrap_or_else(|| "no incident was resolved in this window".to_string()),
            _ => "no data".to_string(),
        })
    }
}

/// Builds the tile of `key` from the current and the previous window's figures.
pub fn tile(
    key: &'static str,
    cur: &MetricsJson,
    prev: &MetricsJson,
    anything_recorded: bool,
) -> Tile {
    let value = figure(cur, key);
    let (label, band, samples, sample_label, low_confidence, detail, hint) = match key {
        "deployment_frequency" => {
            let d = &cur.deployment_frequency;
            (
                "Deployment frequency",
                band_str(d.band),
                d.deployments,
                "production deployments",
                d.low_confidence,
                None,
                None,
            )
        }
        "lead_time" => {
            let l = &cur.lead_time;
            (
                "Lead time for changes (median)",
                band_str(l.band),
                l.changes,
                "changes",
                l.low_confidence,
                l.p90_seconds
                    .map(|p| format!("90th percentile {}", duration(p))),
                l.note.clone(),
            )
        }
        "change_failure_rate" => {
            let c = &cur.change_failure_rate;
            (
                "Change failure rate",
                band_str(c.band),
                c.deployments,
                "production deployments",
                c.low_confidence,
                Some(format!(
                    "{} of {} deployments failed",
                    c.failed_deployments, c.deployments
                )),
                c.hint.clone(),
            )
        }
        "mttr" => {
            let r = &cur.mttr;
            (
                "Time to restore (median)",
                band_str(r.band),
                r.incidents,
                "resolved incidents",
                r.low_confidence,
                r.p90_seconds
                    .map(|p| format!("90th percentile {}", duration(p))),
                None,
            )
        }
        _ => {
            let r = &cur.rework_rate;
            (
                "Rework rate",
                None,
                r.deployments,
                "production deployments",
                false,
                Some(format!(
                    "{} of {} deployments unplanned (no band: DORA gives none)",
                    r.unplanned_deployments, r.deployments
                )),
                None,
            )
        }
    };
    let (change, trend) = change(key, value, figure(prev, key), prev.window.days);
    Tile {
        key,
        label,
        value: value.map(|v| format_figure(key, v)),
        raw: value.map(|v| v.to_string()).unwrap_or_default(),
        detail: value.and(detail),
        band: if value.is_some() || key == "deployment_frequency" {
            band
        } else {
            None
        },
        samples,
        sample_label,
        low_confidence,
        missing_reason: missing_reason(cur, key, anything_recorded),
        change,
        trend,
        hint,
    }
}

/// The change against the previous window, and whether it is better.
fn change(key: &str, cur: Option<f64>, prev: Option<f64>, days: u32) -> (String, &'static str) {
    let against = format!("previous {days} days");
    let (Some(c), Some(p)) = (cur, prev) else {
        return match prev {
            None => (format!("{against}: no figure to compare"), "same"),
            Some(p) => (format!("{against}: {}", format_figure(key, p)), "same"),
        };
    };
    let delta = c - p;
    if delta.abs() < 1e-9 {
        return (format!("no change against the {against}"), "same");
    }
    let sign = if delta > 0.0 { "+" } else { "−" };
    let magnitude = match key {
        "deployment_frequency" => format!("{sign}{:.2} / day", delta.abs()),
        "lead_time" | "mttr" => format!("{sign}{}", duration(delta.abs())),
        _ => format!("{sign}{:.1} points", delta.abs()),
    };
    let better = (delta > 0.0) == higher_is_better(key);
    let trend = if better { "better" } else { "worse" };
    (
        format!(
            "{magnitude} against the {against} ({}; {trend})",
            format_figure(key, p)
        ),
        trend,
    )
}

/// One row of the overview's team and service table.
pub struct Row {
    pub kind: &'static str,
    pub name: String,
    pub href: String,
    pub team: String,
    /// Per metric: the text shown and the sort key (`data-sort`; empty sorts last).
    pub cells: Vec<(String, String)>,
    pub band: String,
    pub band_rank: u8,
}

pub fn band_rank(b: Option<Band>) -> u8 {
    match b {
        Some(Band::Elite) => 0,
        Some(Band::High) => 1,
        Some(Band::Medium) => 2,
        Some(Band::Low) => 3,
        None => 4,
    }
}

pub fn row(kind: &'static str, m: &MetricsJson) -> Row {
    let name = match kind {
        "team" => m.scope.team.clone().unwrap_or_default(),
        _ => m.scope.service.clone().unwrap_or_default(),
    };
    let href = format!("/{kind}s/{}", path_segment(&name));
    let cells = [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "mttr",
    ]
    .iter()
    .map(|k| match figure(m, k) {
        Some(v) => (format_figure(k, v), v.to_string()),
        None => ("no data".to_string(), String::new()),
    })
    .collect();
    Row {
        kind,
        team: if kind == "team" {
            String::new()
        } else {
            m.scope.team.clone().unwrap_or_else(|| "—".to_string())
        },
        name,
        href,
        cells,
        band: m.overall_band.map_or("none", Band::as_str).to_string(),
        band_rank: band_rank(m.overall_band),
    }
}

/// Sorts rows by a column (`name`, a metric key or `band`), missing figures last.
pub fn sort_rows(rows: &mut [Row], column: &str, descending: bool) {
    let metric = [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "mttr",
    ]
    .iter()
    .position(|k| *k == column);
    rows.sort_by(|a, b| {
        let ord = match metric {
            Some(i) => {
                let (x, y) = (
                    a.cells[i].1.parse::<f64>().ok(),
                    b.cells[i].1.parse::<f64>().ok(),
                );
                match (x, y) {
                    (Some(x), Some(y)) => {
                        let o = x.total_cmp(&y);
                        if descending { o.reverse() } else { o }
                    }
                    // Missing figures stay last whichever the direction.
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            }
            None => {
                let o = if column == "band" {
                    a.band_rank.cmp(&b.band_rank)
                } else {
                    a.name.cmp(&b.name)
                };
                if descending { o.reverse() } else { o }
            }
        };
        ord.then_with(|| a.kind.cmp(b.kind))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Percent-encodes a name for a path segment (service names are free text).
pub fn path_segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs, skipping empty values.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// A bar chart of weekly figures, drawn as inline SVG by the template.
pub struct Chart {
    pub key: &'static str,
    pub label: &'static str,
    pub bars: Vec<Bar>,
    /// The latest week's figure in words.
    pub latest: String,
    pub summary: String,
}

pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub height: u32,
    /// The week and its figure (tooltip and table row).
    pub week: String,
    pub text: String,
    /// The JSON API's number exactly (`data-value`), empty when missing.
    pub raw: String,
}

pub const CHART_HEIGHT: u32 = 60;
pub const BAR_WIDTH: u32 = 10;

/// Weekly figures oldest first: `(week ending, figures)`.
pub fn chart(key: &'static str, weeks: &[(String, MetricsJson)]) -> Chart {
    let values: Vec<Option<f64>> = weeks.iter().map(|(_, m)| figure(m, key)).collect();
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let bars = weeks
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, ((week, _), v))| {
            let height = match v {
                Some(v) if max > 0.0 => {
                    ((v / max) * f64::from(CHART_HEIGHT - 2)).round() as u32 + 2
                }
                Some(_) => 2,
                None => 0,
            };
            Bar {
                x: i as u32 * BAR_WIDTH,
                y: CHART_HEIGHT - height,
                height,
                week: week.clone(),
                text: v.map_or_else(|| "no data".to_string(), |v| format_figure(key, v)),
                raw: v.map(|v| v.to_string()).unwrap_or_default(),
            }
        })
        .collect::<Vec<_>>();
    let with_data = values.iter().flatten().count();
    let label = match key {
        "deployment_frequency" => "Deployment frequency",
        "lead_time" => "Lead time (median)",
        "change_failure_rate" => "Change failure rate",
        "mttr" => "Time to restore (median)",
        _ => "Rework rate",
    };
    Chart {
        key,
        label,
        latest: bars.last().map(|b| b.text.clone()).unwrap_or_default(),
        summary: format!(
            "{label} per week over the last {} weeks; {with_data} weeks have a figure",
            weeks.len()
        ),
        bars,
    }
}
