//! `pacer rules`: a Prometheus rule file over Pacer's `GET /metrics`.
//!
//! The recording rules keep the handbook's record names (`dora:*`), so dashboards and alerts
//! built on the Pushgateway recipe keep working when Pacer replaces it; the alerting rules take
//! their thresholds from the effective settings, so a custom band profile gives custom alerts.
//! The text is YAML written by hand rather than serialised: a rule file is read by people, and
//! each rule carries a comment saying why it exists. `promtool check rules` and
//! `promtool test rules` check it in the CLI tests.

use crate::settings::Settings;
use pacer_core::{Band, BandThresholds};
use std::fmt::Write as _;

/// Name of the group of recording rules.
pub const RECORDING_GROUP: &str = "dora";
/// Name of the group of alerting rules.
pub const ALERTING_GROUP: &str = "dora-alerts";
/// How often Prometheus evaluates both groups. The figures behind them change at most once
/// per scrape, so a minute is plenty.
pub const EVALUATION_INTERVAL: &str = "1m";
/// The static label every recorded series carries, as the handbook's recipe labels its
/// gauges: only production ever reaches a DORA figure.
pub const ENV_LABEL: (&str, &str) = ("env", "production");

/// One recording rule: a handbook record name computed from one of Pacer's gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingRule {
    /// The handbook's record name.
    pub record: &'static str,
    /// The `pacer_dora_*` gauge it reads.
    pub source: &'static str,
    /// Why it exists, printed as its comment.
    pub why: &'static str,
}

/// The four recording rules, in the handbook's order.
pub const RECORDING_RULES: [RecordingRule; 4] = [
    RecordingRule {
        record: "dora:deployment_frequency:rate30d",
        source: "pacer_dora_deployment_frequency_per_day",
        why: "Deployment frequency: successful production deployments per day. Pacer counts \
              deployments itself, so there is no changes() over a timestamp gauge that a \
              missed scrape or a Pushgateway restart would undercount.",
    },
    RecordingRule {
        record: "dora:lead_time_seconds:p50",
        source: "pacer_dora_lead_time_p50_seconds",
        why: "Lead time for changes, p50 seconds from a change's first commit to its \
              production deployment. Exact over every change in the window, where \
              quantile_over_time over a pushed gauge only sees the last push per scrape.",
    },
    RecordingRule {
        record: "dora:change_failure_rate:ratio30d",
        source: "pacer_dora_change_failure_rate_percent",
        why: "Change failure rate in percent (0..100, as the handbook's rule): deployments \
              that caused an incident over successful production deployments. No series \
              when there was no deployment, never a made-up 0.",
    },
    RecordingRule {
        record: "dora:mttr_seconds:p50",
        source: "pacer_dora_time_to_restore_p50_seconds",
        why: "Time to restore, p50 seconds from an incident's opening to its resolution. \
              No series without incident data: MTTR is never estimated from deployments \
              (the DoraMetricMissing alert says so instead).",
    },
];

/// Alert names, for tests and docs.
pub const ALERT_CHANGE_FAILURE_RATE: &str = "DoraChangeFailureRateAboveBand";
pub const ALERT_MTTR: &str = "DoraTimeToRestoreAboveElite";
pub const ALERT_METRIC_MISSING: &str = "DoraMetricMissing";
pub const ALERT_PACER_ABSENT: &str = "PacerDoraFiguresAbsent";

/// The change failure rate alert's condition for `band`: the comparison that holds exactly
/// when a rate is in a worse band, given the contract's operators (elite `< e`, high `<= h`,
/// medium `<= m`). `None` for `low`, which has no worse band.
pub fn change_failure_rate_alert(
    bands: &BandThresholds,
    band: Band,
) -> Option<(&'static str, f64)> {
    let t = &bands.change_failure_rate;
    match band {
        // Elite is "< 5": exactly 5 % is already high, so the alert must fire at 5.
        Band::Elite => Some((">=", t.elite_below_percent)),
        Band::High => Some((">", t.high_up_to_percent)),
        Band::Medium => Some((">", t.medium_up_to_percent)),
        Band::Low => None,
    }
}

/// The rule file for `settings` (what `pacer rules` prints).
pub fn render(settings: &Settings) -> anyhow::Result<String> {
    // The CLI has validated the settings already; a caller building them in code must not
    // get rules with a threshold that means nothing.
    settings.alerts.validate()?;
    let bands = &settings.metrics.bands;
    let band = settings.alerts.change_failure_rate_band;
    let (cfr_op, cfr_threshold) = change_failure_rate_alert(bands, band)
        .ok_or_else(|| anyhow::anyhow!("alerts.change_failure_rate_band: low has no bound"))?;
    let mttr_threshold = bands.mttr.elite_below_seconds;
    let days = settings.metrics.default_window_days;
    let for_duration = &settings.alerts.for_duration;

    let mut out = String::new();
    let w = &mut out;
    line(
        w,
        0,
        &format!(
            "# Prometheus rules for Pacer, printed by `pacer rules` (pacer {}).",
            env!("CARGO_PKG_VERSION")
        ),
    );
    comment(
        w,
        0,
        &format!(
            "They read the pacer_dora_* gauges of Pacer's GET /metrics, which Pacer computes \
             for every scope over the last {days} days (metrics.default_window_days). \
             Thresholds come from the settings this file was printed with: print it again \
             after changing [metrics.bands] or [alerts]. Load it with `rule_files:` in \
             prometheus.yml; `promtool check rules` checks it."
        ),
    );
    if days != 30 {
        tracing::warn!(
            days,
            "metrics.default_window_days is not 30: the rules keep the handbook's *30d record names, but their figures cover {days} days"
        );
        comment(
            w,
            0,
            &format!(
                "Note: the record names keep the handbook's `30d` so that existing dashboards \
                 keep working, but these figures cover {days} days."
            ),
        );
    }
    line(w, 0, "groups:");

    // Recording rules.
    comment(
        w,
        1,
        "The handbook's four records, each one series per service (with the recipe's `repo` \
         label copied from `service`, and `team` when the service has one) or'ed with one \
         series for the organization. Team scopes stay in pacer_dora_* directly.",
    );
    line(w, 1, &format!("- name: {RECORDING_GROUP}"));
    line(w, 2, &format!("interval: {EVALUATION_INTERVAL}"));
    line(w, 2, "rules:");
    for (i, rule) in RECORDING_RULES.iter().enumerate() {
        if i > 0 {
            w.push('\n');
        }
        comment(w, 3, rule.why);
        line(w, 3, &format!("- record: {}", rule.record));
        line(w, 4, "expr: |");
        line(
            w,
            5,
            &format!(
                "label_replace({}{{scope=\"service\"}}, \"repo\", \"$1\", \"service\", \"(.*)\")",
                rule.source
            ),
        );
        line(w, 5, "or");
        line(w, 5, &format!("{}{{scope=\"organization\"}}", rule.source));
        line(w, 4, "labels:");
        line(w, 5, &format!("{}: {}", ENV_LABEL.0, ENV_LABEL.1));
    }
    w.push('\n');

    // Alerting rules.
    let scope = "{{ if $labels.service }}service {{ $labels.service }}\
                 {{ else }}the organization{{ end }}";
    comment(
        w,
        1,
        &format!(
            "Alerts. Each condition must hold for alerts.for = {for_duration} before it fires: \
             the figures move once per scrape, so a blip is not worth a notification."
        ),
    );
    line(w, 1, &format!("- name: {ALERTING_GROUP}"));
    line(w, 2, &format!("interval: {EVALUATION_INTERVAL}"));
    line(w, 2, "rules:");

    let band_name = band.as_str();
    let cfr_bound = match band {
        Band::Elite => format!("below {}%", number(cfr_threshold)),
        _ => format!("at most {}%", number(cfr_threshold)),
    };
    let cfr_setting = match band {
        Band::Elite => "elite_below_percent",
        Band::High => "high_up_to_percent",
        _ => "medium_up_to_percent",
    };
    comment(
        w,
        3,
        &format!(
            "The handbook: alert when the change failure rate exceeds your band threshold. \
             Here: worse than the {band_name} band ({cfr_bound}: \
             metrics.bands.change_failure_rate.{cfr_setting}, chosen by \
             alerts.change_failure_rate_band)."
        ),
    );
    alert(
        w,
        ALERT_CHANGE_FAILURE_RATE,
        &format!(
            "dora:change_failure_rate:ratio30d {cfr_op} {}",
            number(cfr_threshold)
        ),
        for_duration,
        "warning",
        &format!(
            "Change failure rate of {scope} is {{{{ $value | printf \"%.1f\" }}}}%, worse \
             than the {band_name} band ({cfr_bound})"
        ),
        &format!(
            "{{{{ $value | printf \"%.1f\" }}}}% of the successful production deployments of \
             {scope} in the last {days} days caused an incident. What to do: see which \
             deployments failed and why with `pacer report` or GET /api/v1/incidents; check \
             that incidents are triaged (caused_by_deploy) so that unrelated outages do not \
             count; a sustained rate above 10% is the handbook's signal for targeted chaos \
             experiments on the fault class of these incidents. A rate from fewer than 5 \
             deployments is flagged by pacer_dora_low_confidence."
        ),
    );
    w.push('\n');

    comment(
        w,
        3,
        &format!(
            "The handbook: alert when MTTR crosses the Elite/High boundary. Elite is a p50 \
             below {} (metrics.bands.mttr.elite_below_seconds = {}), so the alert fires at \
             that value and above.",
            human_seconds(mttr_threshold),
            number(mttr_threshold)
        ),
    );
    alert(
        w,
        ALERT_MTTR,
        &format!("dora:mttr_seconds:p50 >= {}", number(mttr_threshold)),
        for_duration,
        "warning",
        &format!(
            "Time to restore of {scope} is {{{{ $value | humanizeDuration }}}} (p50), not \
             elite (below {})",
            human_seconds(mttr_threshold)
        ),
        &format!(
            "Half of the production incidents of {scope} resolved in the last {days} days \
             took {{{{ $value | humanizeDuration }}}} or longer to restore. What to do: review \
             the slowest incidents (GET /api/v1/incidents); shorten detection and rollback \
             (one-step rollback, feature flags); check that the incident feed resolves \
             incidents when service is restored, not when the ticket is closed."
        ),
    );
    w.push('\n');

    comment(
        w,
        3,
        "An empty rule must never look healthy: when a figure has no sample (no deployment, \
         no change, no incident feed) its dora:* record has no series and its alert above \
         can never fire. Organization scope only: a single service with no incident this \
         month is good news, not a gap in the data.",
    );
    alert(
        w,
        ALERT_METRIC_MISSING,
        "pacer_dora_metric_missing{scope=\"organization\"} == 1",
        for_duration,
        "warning",
        &format!(
            "Pacer has no {{{{ $labels.metric }}}} figure for the organization over the last \
             {days} days"
        ),
        "No data to compute {{ $labels.metric }} from, so its DORA record is empty and no \
         threshold alert can fire for it. What to do: \
         {{ if eq $labels.metric \"time_to_restore\" }}connect an incident feed (PagerDuty, \
         OpsGenie or Alertmanager webhooks, or POST /api/v1/incidents): MTTR is never \
         estimated from deployments.\
         {{ else if eq $labels.metric \"lead_time\" }}send the changes of each deployment \
         (changes with started_at, or lead_time_seconds) from the deploy workflow.\
         {{ else }}record successful production deployments (POST /api/v1/deployments or the \
         Pushgateway recipe) and check that metrics.production_environments names your \
         production environment.{{ end }}",
    );
    w.push('\n');

    comment(
        w,
        3,
        "Without Pacer's figures every rule above is silent, which would look like good \
         news. pacer_dora_window_seconds is always exposed, so its absence means Prometheus \
         does not scrape Pacer.",
    );
    alert(
        w,
        ALERT_PACER_ABSENT,
        "absent(pacer_dora_window_seconds)",
        for_duration,
        "critical",
        "Prometheus has no DORA figures from Pacer",
        "No target exposes pacer_dora_window_seconds, so none of the DORA alerts can fire. What \
         to do: check that Pacer is running and that Prometheus scrapes its /metrics (the \
         scrape config, and the target's health on the Targets page).",
    );
    Ok(out)
}

/// One alerting rule.
fn alert(
    w: &mut String,
    name: &str,
    expr: &str,
    for_duration: &str,
    severity: &str,
    summary: &str,
    description: &str,
) {
    line(w, 3, &format!("- alert: {name}"));
    line(w, 4, "expr: |");
    line(w, 5, expr);
    line(w, 4, &format!("for: {for_duration}"));
    line(w, 4, "labels:");
    line(w, 5, &format!("severity: {severity}"));
    line(w, 4, "annotations:");
    folded(w, 5, "summary", summary);
    folded(w, 5, "description", description);
}

const INDENT: usize = 2;
const WIDTH: usize = 96;

fn line(w: &mut String, level: usize, text: &str) {
    let _ = writeln!(w, "{:width$}{text}", "", width = level * INDENT);
}

/// The words of `text` (runs of spaces collapsed), a Go template action `{{ .. }}` counting
/// as one word so that a reader never sees one split across lines.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_action = false;
    for word in text.split_whitespace() {
        match out.last_mut() {
            Some(last) if in_action => {
                last.push(' ');
                last.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
        let (opens, closes) = (word.matches("{{").count(), word.matches("}}").count());
        if opens != closes {
            in_action = opens > closes;
        }
    }
    out
}

/// Words of `text` wrapped at [`WIDTH`] after `prefix`.
fn wrapped(w: &mut String, level: usize, prefix: &str, text: &str) {
    let pad = level * INDENT + prefix.len();
    let mut current = String::new();
    for word in words(text) {
        if !current.is_empty() && pad + current.len() + 1 + word.len() > WIDTH {
            line(w, level, &format!("{prefix}{current}"));
            current.clear();
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        line(w, level, &format!("{prefix}{current}"));
    }
}

fn comment(w: &mut String, level: usize, text: &str) {
    wrapped(w, level, "# ", text);
}

/// `key: >-` and `text` as a folded block scalar: lines join with single spaces, and nothing
/// in it needs escaping (Go templates use both quote characters).
fn folded(w: &mut String, level: usize, key: &str, text: &str) {
    line(w, level, &format!("{key}: >-"));
    wrapped(w, level + 1, "", text);
}

/// A threshold as PromQL and people read it (`10`, `12.5`).
fn number(value: f64) -> String {
    format!("{value}")
}

/// Seconds as `1h`, `1d`, `1h30m` (or `90.5s` when not whole).
pub fn human_seconds(seconds: f64) -> String {
    if !(seconds.is_finite() && seconds >= 1.0 && seconds.fract() == 0.0) {
        return format!("{}s", number(seconds));
    }
    let mut rest = seconds as u64;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_action_is_one_word() {
        assert_eq!(
            words("of {{ if $labels.service }}x{{ else }}y{{ end }} is {{ $value }}%"),
            [
                "of",
                "{{ if $labels.service }}x{{ else }}y{{ end }}",
                "is",
                "{{ $value }}%"
            ]
        );
    }

    #[test]
    fn alert_durations_are_what_prometheus_accepts() {
        use crate::settings::is_prometheus_duration;
        for ok in [
            "15m",
            "1h30m",
            "90s",
            "500ms",
            "1w",
            "0s",
            "1y2w3d4h5m6s7ms",
        ] {
            assert!(is_prometheus_duration(ok), "{ok}");
        }
        // No unit, a fraction, units out of order or twice, spaces, words.
        for bad in [
            "", "15", "m", "1.5h", "30m1h", "1h1h", "15 m", "15min", "-5m", "1ms1s",
        ] {
            assert!(!is_prometheus_duration(bad), "{bad}");
        }
    }

    #[test]
    fn human_seconds_reads_like_a_duration() {
        assert_eq!(human_seconds(3600.0), "1h");
        assert_eq!(human_seconds(86_400.0), "1d");
        assert_eq!(human_seconds(5400.0), "1h30m");
        assert_eq!(human_seconds(90_061.0), "1d1h1m1s");
        assert_eq!(human_seconds(90.5), "90.5s");
        assert_eq!(human_seconds(0.0), "0s");
    }

    #[test]
    fn the_change_failure_rate_alert_fires_exactly_outside_the_band() {
        let bands = BandThresholds::default();
        // Defaults: elite < 5, high <= 10, medium <= 15 (docs/metrics.md).
        for (band, rate, fires) in [
            (Band::Elite, 4.99, false),
            (Band::Elite, 5.0, true), // 5 % is high, no longer elite
            (Band::High, 10.0, false),
            (Band::High, 10.01, true),
            (Band::Medium, 15.0, false),
            (Band::Medium, 15.01, true),
        ] {
            let (op, threshold) = change_failure_rate_alert(&bands, band).unwrap();
            let would_fire = match op {
                ">=" => rate >= threshold,
                _ => rate > threshold,
            };
            assert_eq!(would_fire, fires, "{band:?} at {rate}");
            // The alert fires exactly when the band table puts the rate in a worse band.
            assert_eq!(
                bands.change_failure_rate(rate) > band,
                fires,
                "{band:?} at {rate}"
            );
        }
        assert_eq!(change_failure_rate_alert(&bands, Band::Low), None);
    }

    #[test]
    fn render_refuses_the_low_band() {
        let mut settings = Settings::default();
        settings.alerts.change_failure_rate_band = Band::Low;
        let err = render(&settings).unwrap_err().to_string();
        assert!(err.contains("alerts.change_failure_rate_band"), "{err}");
    }
}
