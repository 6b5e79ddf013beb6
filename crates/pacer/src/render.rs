//! `pacer report` output: a table for terminals (bands coloured on a TTY), JSON, Markdown
//! or CSV, all from the same [`ReportJson`] whether it was computed here or fetched.

use crate::present::{ChaosAdvisoryJson, MetricsJson, ReportJson};
use pacer_core::Band;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Csv,
}

struct Row {
    scope: String,
    kind: &'static str,
    cells: Vec<String>,
    bands: [Option<Band>; 5],
}

const HEADERS: [&str; 12] = [
    "scope",
    "kind",
    "deploys/day",
    "df band",
    "lead p50",
    "lt band",
    "cfr",
    "cfr band",
    "mttr p50",
    "mttr band",
    "rework",
    "overall",
];

/// Seconds as a short human duration: `45s`, `12m`, `3.5h`, `2.1d`.
pub fn duration(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 60.0 => format!("{s:.0}s"),
        Some(s) if s < 3600.0 => format!("{:.0}m", s / 60.0),
        Some(s) if s < 86400.0 => format!("{:.1}h", s / 3600.0),
        Some(s) => format!("{:.1}d", s / 86400.0),
    }
}

fn band(b: Option<Band>, low_confidence: bool) -> String {
    match b {
        None => "-".into(),
        Some(b) if low_confidence => format!("{}*", b.as_str()),
        Some(b) => b.as_str().into(),
    }
}

fn row(kind: &'static str, scope: String, m: &MetricsJson) -> Row {
    let df = &m.deployment_frequency;
    let lt = &m.lead_time;
    let cfr = &m.change_failure_rate;
    let mttr = &m.mttr;
    Row {
        scope,
        kind,
        cells: vec![
            format!("{:.2}", df.per_day),
            band(df.band, df.low_confidence),
            duration(lt.p50_seconds),
            band(lt.band, lt.low_confidence),
            cfr.percent.map_or("-".into(), |p| format!("{p:.1}%")),
            band(cfr.band, cfr.low_confidence),
            duration(mttr.p50_seconds),
            band(mttr.band, mttr.low_confidence),
            // No band: DORA 2024 gives none for the rework rate.
            m.rework_rate
                .percent
                .map_or("-".into(), |p| format!("{p:.1}%")),
            band(m.overall_band, false),
        ],
        bands: [df.band, lt.band, cfr.band, mttr.band, m.overall_band],
    }
}

fn rows(r: &ReportJson) -> Vec<Row> {
    let mut out = vec![row("organisation", "(all)".into(), &r.organisation)];
    for t in &r.teams {
        out.push(row("team", t.scope.team.clone().unwrap_or_default(), t));
    }
    for s in &r.services {
        out.push(row(
            "service",
            s.scope.service.clone().unwrap_or_default(),
            s,
        ));
    }
    out
}

fn colour(b: Option<Band>) -> &'static str {
    match b {
        Some(Band::Elite) => "\x1b[32m",
        Some(Band::High) => "\x1b[36m",
        Some(Band::Medium) => "\x1b[33m",
        Some(Band::Low) => "\x1b[31m",
        None => "",
    }
}

fn footer(r: &ReportJson) -> String {
    let mut notes = vec![format!(
        "window: {} .. {} ({} days); * = fewer than 5 samples (low confidence)",
        r.window.start, r.window.end, r.window.days
    )];
    let o = &r.organisation;
    if let Some(reason) = &o.mttr.missing_reason {
        notes.push(format!("MTTR missing: {reason}"));
    }
    if o.untriaged_incidents > 0 {
        notes.push(format!(
            "{} untriaged production incident(s) in the window: triage them with `pacer incident triage`",
            o.untriaged_incidents
        ));
    }
    if let Some(hint) = &o.change_failure_rate.hint {
        notes.push(hint.clone());
    }
    let scopes = std::iter::once(("organisation".to_string(), o))
        .chain(r.teams.iter().map(|m| {
            let name = m.scope.team.clone().unwrap_or_default();
            (format!("team {name}"), m)
        }))
        .chain(r.services.iter().map(|m| {
            let name = m.scope.service.clone().unwrap_or_default();
            (format!("service {name}"), m)
        }));
    for (scope, m) in scopes {
        if let Some(a) = &m.chaos_advisory {
            notes.extend(advisory_lines(&scope, a));
        }
    }
    notes.join("\n")
}

/// The chaos advisory of one scope, one line per fault class after a heading line.
fn advisory_lines(scope: &str, a: &ChaosAdvisoryJson) -> Vec<String> {
    let weekly: Vec<String> = a
        .weekly_percent
        .iter()
        .map(|p| format!("{p:.1}%"))
        .collect();
    let mut lines = vec![format!(
        "chaos advisory for {scope}: change failure rate above {}% for {} consecutive weeks ({}, oldest first); suggested GameDays:",
        a.threshold_percent,
        a.weeks,
        weekly.join(", ")
    )];
    for c in &a.fault_classes {
        lines.push(format!(
            "  {}: {} incident(s), e.g. {} -> {}",
            c.class,
            c.incidents,
            c.examples.join(", "),
            c.experiment
        ));
    }
    lines
}

pub fn table(r: &ReportJson, colours: bool) -> String {
    let rows = rows(r);
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.len()).collect();
    for row in &rows {
        widths[0] = widths[0].max(row.scope.len());
        widths[1] = widths[1].max(row.kind.len());
        for (i, c) in row.cells.iter().enumerate() {
            widths[i + 2] = widths[i + 2].max(c.len());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = HEADERS
        .iter()
        .zip(&widths)
        .map(|(h, w)| format!("{h:<w$}"))
        .collect();
    out.push_str(header.join("  ").trim_end());
    out.push('\n');
    for row in &rows {
        let mut line = vec![
            format!("{:<w$}", row.scope, w = widths[0]),
            format!("{:<w$}", row.kind, w = widths[1]),
        ];
        for (i, c) in row.cells.iter().enumerate() {
            let padded = format!("{c:<w$}", w = widths[i + 2]);
            // Band columns are 1, 3, 5, 7, 9 among the cells (8 is the rework rate).
            let band = match i {
                1 => Some(row.bands[0]),
                3 => Some(row.bands[1]),
                5 => Some(row.bands[2]),
                7 => Some(row.bands[3]),
                9 => Some(row.bands[4]),
                _ => None,
            };
            match band {
                Some(b) if colours && b.is_some() => {
                    line.push(format!("{}{padded}\x1b[0m", colour(b)))
                }
                _ => line.push(padded),
            }
        }
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&footer(r));
    out.push('\n');
    out
}

pub fn markdown(r: &ReportJson) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for row in rows(r) {
        let cells: Vec<String> = [row.scope.replace('|', "\\|"), row.kind.to_string()]
            .into_iter()
            .chain(row.cells)
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
    for line in footer(r).lines() {
        out.push_str(&format!("- {line}\n"));
    }
    out
}

pub fn csv(r: &ReportJson) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "kind",
        "service",
        "team",
        "window_start",
        "window_end",
        "days",
        "deployments",
        "per_day",
        "deployment_frequency_band",
        "changes",
        "lead_time_p50_seconds",
        "lead_time_p90_seconds",
        "lead_time_band",
        "failed_deployments",
        "change_failure_rate_percent",
        "change_failure_rate_band",
        "incidents",
        "mttr_p50_seconds",
        "mttr_p90_seconds",
        "mttr_band",
        "untriaged_incidents",
        "overall_band",
        // Appended, so that the columns above keep their positions.
        "deployment_frequency_low_confidence",
        "lead_time_low_confidence",
        "change_failure_rate_low_confidence",
        "mttr_low_confidence",
        "attributed_organisation_wide",
        "unplanned_deployments",
        "rework_rate_percent",
        "rework_by_sender",
        "rework_by_rule",
        "rework_by_redeployed_sha",
    ])?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let b = |v: Option<Band>| v.map(|v| v.as_str().to_string()).unwrap_or_default();
    let all = std::iter::once(("organisation", &r.organisation))
        .chain(r.teams.iter().map(|m| ("team", m)))
        .chain(r.services.iter().map(|m| ("service", m)));
    for (kind, m) in all {
        w.write_record([
            kind.to_string(),
            m.scope.service.clone().unwrap_or_default(),
            m.scope.team.clone().unwrap_or_default(),
            m.window.start.clone(),
            m.window.end.clone(),
            m.window.days.to_string(),
            m.deployment_frequency.deployments.to_string(),
            m.deployment_frequency.per_day.to_string(),
            b(m.deployment_frequency.band),
            m.lead_time.changes.to_string(),
            opt(m.lead_time.p50_seconds),
            opt(m.lead_time.p90_seconds),
            b(m.lead_time.band),
            m.change_failure_rate.failed_deployments.to_string(),
            opt(m.change_failure_rate.percent),
            b(m.change_failure_rate.band),
            m.mttr.incidents.to_string(),
            opt(m.mttr.p50_seconds),
            opt(m.mttr.p90_seconds),
            b(m.mttr.band),
            m.untriaged_incidents.to_string(),
            b(m.overall_band),
            m.deployment_frequency.low_confidence.to_string(),
            m.lead_time.low_confidence.to_string(),
            m.change_failure_rate.low_confidence.to_string(),
            m.mttr.low_confidence.to_string(),
            m.change_failure_rate
                .attributed_organisation_wide
                .to_string(),
            m.rework_rate.unplanned_deployments.to_string(),
            opt(m.rework_rate.percent),
            m.rework_rate.by_reason.sender.to_string(),
            m.rework_rate.by_reason.rule.to_string(),
            m.rework_rate.by_reason.redeployed_sha.to_string(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

pub fn render(r: &ReportJson, format: Format, colours: bool) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => table(r, colours),
        Format::Json => serde_json::to_string_pretty(r)? + "\n",
        Format::Markdown => markdown(r),
        Format::Csv => csv(r)?,
    })
}
