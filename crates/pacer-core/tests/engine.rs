//! The metric contract (`shared/spec/metrics.md` and its documented interpretations),
//! tested through `pacer_core::engine::compute` with events recorded by
//! `EventSet::record_deployment` / `EventSet::record_incident` (the store's semantics).
//!
//! Every expected figure is worked out by hand in a comment next to it. Unless a test
//! says otherwise the window is 30 days ending at `END` (so it starts at `END - 30 d`,
//! exclusive) and the attribution policy is `explicit`.

#[path = "engine/oracle.rs"]
mod oracle;
#[path = "engine/props.rs"]
mod props;
#[path = "engine/rework.rs"]
mod rework;
#[path = "engine/support.rs"]
mod support;

use pacer_core::engine::{
    ChangeFailureRate, DeploymentFrequency, LeadTime, MTTR_NO_FEED, MTTR_NONE_RESOLVED, Restore,
    candidate_deployments,
};
use pacer_core::{
    AttributionPolicy, Band, BandThresholds, IncidentError, MetricsConfig, ProductionEnvironments,
    Scope, TeamMap, Timestamp, Window,
};
use std::collections::BTreeMap;
use support::*;

fn window_policy() -> MetricsConfig {
    MetricsConfig {
        attribution: AttributionPolicy::Window,
        ..MetricsConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Empty windows and window edges
// ---------------------------------------------------------------------------------------

#[test]
fn empty_history_reports_zero_frequency_and_missing_figures() {
    let m = History::new().org();
    assert_eq!(m.scope, Scope::organisation());
    assert_eq!(m.window, Window::new(Timestamp::from_seconds(END), 30));
    // 0 deployments / 30 days = 0.0 per day: band low (never null), low confidence.
    assert_eq!(
        m.deployment_frequency,
        DeploymentFrequency {
            deployments: 0,
            per_day: 0.0,
            band: Band::Low,
            low_confidence: true,
        }
    );
    assert_eq!(
        m.lead_time,
        LeadTime {
            changes: 0,
            p50_seconds: None,
            p90_seconds: None,
            band: None,
            low_confidence: true,
            changes_started_after_deployment: 0,
        }
    );
    assert_eq!(
        m.change_failure_rate,
        ChangeFailureRate {
            deployments: 0,
            failed_deployments: 0,
            percent: None,
            band: None,
            low_confidence: true,
            attributed_organisation_wide: 0,
        }
    );
    // No incident ever received: MTTR is missing because there is no feed.
    let no_feed = Restore {
        incidents: 0,
        p50_seconds: None,
        p90_seconds: None,
        band: None,
        low_confidence: true,
        missing_reason: Some(MTTR_NO_FEED),
    };
    assert_eq!(m.mttr, no_feed);
    assert_eq!(m.failed_deployment_recovery_time, no_feed);
    assert_eq!(m.untriaged_incidents, 0);
    assert_eq!(m.overall_band, None);
}

#[test]
fn events_outside_the_window_count_for_nothing() {
    let mut h = History::new();
    // Before the window (END - 40 d) and after it (END + 1 d).
    h.deploy(deploy("old", "api", END - 40 * DAY).change("c1", END - 41 * DAY))
        .deploy(deploy("new", "api", END + DAY).change("c2", END))
        .incident(
            incident("i-old", Some("api"), END - 40 * DAY)
                .resolved(END - 39 * DAY)
                .caused(Some(true)),
        );
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 0);
    assert_eq!(m.deployment_frequency.band, Band::Low);
    assert_eq!(m.lead_time.p50_seconds, None);
    assert_eq!(m.change_failure_rate.percent, None);
    assert_eq!(m.mttr.incidents, 0);
    // An incident was received, so the reason is "none resolved", not "no feed".
    assert_eq!(m.mttr.missing_reason, Some(MTTR_NONE_RESOLVED));
    assert_eq!(
        m.failed_deployment_recovery_time.missing_reason,
        Some(MTTR_NONE_RESOLVED)
    );
    assert_eq!(m.untriaged_incidents, 0);
    assert_eq!(m.overall_band, None);
}

#[test]
fn window_excludes_its_start_and_includes_its_end() {
    let start = END - 30 * DAY;
    let ms = |s: i64, extra: i64| Timestamp::from_millis(s * 1000 + extra);
    let mut h = History::new();
    h.deploy(deploy("d-start", "api", start).change("c-start", start - 600))
        .deploy(deploy("d-in", "api", ms(start, 1)).change("c-in", start - 3600))
        .deploy(deploy("d-end", "api", END).change("c-end", END - 1800))
        .deploy(deploy("d-after", "api", ms(END, 1)).change("c-after", END - 60));
    // Triaged `false`: these only test the resolved-at edge.
    h.incident(
        incident("i-start", Some("api"), start - 600)
            .resolved(start)
            .caused(Some(false)),
    )
    .incident(
        incident("i-end", Some("api"), END - 1200)
            .resolved(END)
            .caused(Some(false)),
    )
    .incident(
        incident("i-after", Some("api"), END - 60)
            .resolved(ms(END, 1))
            .caused(Some(false)),
    );
    // Untriaged: these only test the opened-at edge.
    h.incident(incident("u-start", Some("api"), start))
        .incident(incident("u-end", Some("api"), END))
        .incident(incident("u-after", Some("api"), ms(END, 1)));

    let m = h.org();
    // In: d-in (start + 1 ms) and d-end (= end). Out: d-start (= start), d-after.
    // 2 / 30 = 0.0667 per day >= 1/30: high.
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_close(Some(m.deployment_frequency.per_day), 2.0 / 30.0);
    assert_eq!(m.deployment_frequency.band, Band::High);
    // c-in started at start - 3600 s and was deployed at start + 1 ms: 3600.001 s.
    // c-end: 1800 s. Sorted [1800, 3600.001]:
    // p50 h = 0.5 -> 1800 + 0.5 * 1800.001 = 2700.0005
    // p90 h = 0.9 -> 1800 + 0.9 * 1800.001 = 3420.0009
    assert_eq!(m.lead_time.changes, 2);
    assert_close(m.lead_time.p50_seconds, 2700.0005);
    assert_close(m.lead_time.p90_seconds, 3420.0009);
    // Resolved in window: only i-end (resolved exactly at end): 1200 s, elite.
    assert_eq!(m.mttr.incidents, 1);
    assert_eq!(m.mttr.p50_seconds, Some(1200.0));
    assert_eq!(m.mttr.p90_seconds, Some(1200.0));
    assert_eq!(m.mttr.band, Some(Band::Elite));
    // Opened in window and untriaged: only u-end (opened exactly at end).
    assert_eq!(m.untriaged_incidents, 1);
    // Nothing caused: 0 of 2 = 0 %.
    assert_eq!(m.change_failure_rate.percent, Some(0.0));
}

// ---------------------------------------------------------------------------------------
// Quantiles and confidence
// ---------------------------------------------------------------------------------------

#[test]
fn lead_time_quantiles_for_odd_and_even_sample_counts() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 3 * DAY).change("c1", END - 3 * DAY - 1800))
        .deploy(deploy("d2", "api", END - 2 * DAY).change("c2", END - 2 * DAY - 600))
        .deploy(deploy("d3", "api", END - DAY).change("c3", END - DAY - 3600));
    // Odd: sorted [600, 1800, 3600].
    // p50 h = 0.5*2 = 1 -> 1800; p90 h = 0.9*2 = 1.8 -> 1800 + 0.8*(3600-1800) = 3240.
    let m = h.org();
    assert_eq!(m.lead_time.changes, 3);
    assert_close(m.lead_time.p50_seconds, 1800.0);
    assert_close(m.lead_time.p90_seconds, 3240.0);
    // p50 1800 s < 1 h: elite.
    assert_eq!(m.lead_time.band, Some(Band::Elite));
    // Even: a fourth deployment carrying only a precomputed lead time of 7200 s.
    h.deploy(deploy("d4", "api", END - HOUR).lead(7200.0));
    // Sorted [600, 1800, 3600, 7200].
    // p50 h = 1.5 -> 1800 + 0.5*(3600-1800) = 2700; p90 h = 2.7 -> 3600 + 0.7*3600 = 6120.
    let m = h.org();
    assert_eq!(m.lead_time.changes, 4);
    assert_close(m.lead_time.p50_seconds, 2700.0);
    assert_close(m.lead_time.p90_seconds, 6120.0);
}

#[test]
fn mttr_quantiles_for_odd_and_even_sample_counts() {
    let mut h = History::new();
    for (id, opened, minutes) in [("i1", 10, 5), ("i2", 20, 45), ("i3", 30, 15)] {
        let opened = END - opened * HOUR;
        h.incident(
            incident(id, Some("api"), opened)
                .resolved(opened + minutes * 60)
                .caused(Some(false)),
        );
    }
    // Odd: sorted [300, 900, 2700].
    // p50 h = 1 -> 900; p90 h = 1.8 -> 900 + 0.8*(2700-900) = 2340. 900 s < 1 h: elite.
    let m = h.org();
    assert_eq!(m.mttr.incidents, 3);
    assert_close(m.mttr.p50_seconds, 900.0);
    assert_close(m.mttr.p90_seconds, 2340.0);
    assert_eq!(m.mttr.band, Some(Band::Elite));
    assert_eq!(m.mttr.missing_reason, None);
    assert!(m.mttr.low_confidence);
    // Even: add 5400 s. Sorted [300, 900, 2700, 5400].
    // p50 h = 1.5 -> 900 + 0.5*1800 = 1800; p90 h = 2.7 -> 2700 + 0.7*2700 = 4590.
    h.incident(
        incident("i4", Some("api"), END - 40 * HOUR)
            .resolved(END - 40 * HOUR + 5400)
            .caused(Some(false)),
    );
    let m = h.org();
    assert_eq!(m.mttr.incidents, 4);
    assert_close(m.mttr.p50_seconds, 1800.0);
    assert_close(m.mttr.p90_seconds, 4590.0);
    // None was caused by a deployment: FDRT has no sample, with the "none resolved" reason.
    assert_eq!(m.failed_deployment_recovery_time.incidents, 0);
    assert_eq!(
        m.failed_deployment_recovery_time.missing_reason,
        Some(MTTR_NONE_RESOLVED)
    );
}

#[test]
fn five_samples_are_enough_for_confidence() {
    let mut h = History::new();
    for k in 1..=4 {
        h.deploy(deploy(&format!("d{k}"), "api", END - k * DAY).lead(600.0));
    }
    let m = h.org();
    // 4 deployments, 4 changes: < 5 samples.
    assert!(m.deployment_frequency.low_confidence);
    assert!(m.lead_time.low_confidence);
    assert!(m.change_failure_rate.low_confidence);
    h.deploy(deploy("d5", "api", END - 5 * DAY).lead(600.0));
    let m = h.org();
    // 5 of each: no longer low confidence.
    assert!(!m.deployment_frequency.low_confidence);
    assert!(!m.lead_time.low_confidence);
    assert!(!m.change_failure_rate.low_confidence);
}

// ---------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------

#[test]
fn a_change_carried_by_two_deployments_counts_in_the_first() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 10 * DAY).change("c1", END - 10 * DAY - 3600))
        .deploy(
            deploy("d2", "api", END - 5 * DAY)
                .change("c1", END - 10 * DAY - 3600)
                .change("c2", END - 5 * DAY - 600),
        );
    // 30 days: c1 in d1 (3600 s), c2 in d2 (600 s); c1 is not counted again in d2.
    // Sorted [600, 3600]: p50 = 600 + 0.5*3000 = 2100; p90 = 600 + 0.9*3000 = 3300.
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.lead_time.changes, 2);
    assert_close(m.lead_time.p50_seconds, 2100.0);
    assert_close(m.lead_time.p90_seconds, 3300.0);
    // 7 days (after END - 7 d): only d2. c1's first carrier d1 is outside, so c1 is
    // counted nowhere in this window: [600].
    let m = h.metrics(Scope::organisation(), END, 7);
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(m.lead_time.changes, 1);
    assert_close(m.lead_time.p50_seconds, 600.0);
}

#[test]
fn a_change_listed_twice_in_one_deployment_counts_once_from_its_earliest_start() {
    let mut h = History::new();
    h.deploy(
        deploy("d1", "api", END - DAY)
            .change("c1", END - DAY - 60)
            .change("c1", END - DAY - 7200),
    );
    // One change, from the earlier start: 7200 s.
    let m = h.org();
    assert_eq!(m.lead_time.changes, 1);
    assert_close(m.lead_time.p50_seconds, 7200.0);
}

#[test]
fn one_commit_deployed_to_two_services_counts_once_in_each() {
    let started = END - DAY - 5400;
    let mut h = History::new();
    h.deploy(deploy("api-1", "api", END - DAY).change("abc", started))
        .deploy(deploy("web-1", "web", END - DAY + 1800).change("abc", started))
        // A later api deployment carrying it again does not count it again.
        .deploy(deploy("api-2", "api", END - HOUR).change("abc", started));
    // api: 5400 s, web: 5400 + 1800 = 7200 s. Organisation: [5400, 7200], p50 = 6300.
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 3);
    assert_eq!(m.lead_time.changes, 2);
    assert_close(m.lead_time.p50_seconds, 6300.0);
    let api = h.service("api");
    assert_eq!(api.lead_time.changes, 1);
    assert_close(api.lead_time.p50_seconds, 5400.0);
    let web = h.service("web");
    assert_eq!(web.lead_time.changes, 1);
    assert_close(web.lead_time.p50_seconds, 7200.0);
}

#[test]
fn a_change_starting_after_its_deployment_counts_as_zero_and_is_reported() {
    let mut h = History::new();
    h.deploy(
        deploy("d1", "api", END - DAY)
            .change("c-ok", END - DAY - 600)
            .change("c-skew", END - DAY + 120),
    )
    // Its only change starts 1 s after it: the deployment still counts.
    .deploy(deploy("d2", "api", END - HOUR).change("c-late", END - HOUR + 1))
    // A precomputed negative lead time is the same clock skew.
    .deploy(deploy("d3", "api", END - 2 * HOUR).lead(-30.0));
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 3);
    // Sorted [0, 0, 0, 600]: p50 h = 1.5 -> 0; p90 h = 2.7 -> 0 + 0.7*600 = 420.
    assert_eq!(m.lead_time.changes, 4);
    assert_eq!(m.lead_time.changes_started_after_deployment, 3);
    assert_close(m.lead_time.p50_seconds, 0.0);
    assert_close(m.lead_time.p90_seconds, 420.0);
    assert_eq!(m.lead_time.band, Some(Band::Elite));
}

// ---------------------------------------------------------------------------------------
// What counts as a production deployment
// ---------------------------------------------------------------------------------------

#[test]
fn failed_and_non_production_deployments_count_nowhere() {
    let started = END - 4 * DAY;
    let mut h = History::new();
    h.deploy(
        deploy("stg", "api", END - 3 * DAY)
            .env("staging")
            .change("c1", started),
    )
    .deploy(
        deploy("fail", "api", END - 2 * DAY)
            .failed()
            .change("c1", started),
    )
    .deploy(
        deploy("eu", "api", END - 2 * DAY + 60)
            .env("production-eu")
            .change("c1", started),
    )
    .deploy(deploy("ok", "api", END - DAY).change("c1", started));
    // Caused incidents that name the failed or the staging deployment blame nothing
    // (no fall-back to attribution by time).
    h.incident(
        incident("i-fail", Some("api"), END - 2 * DAY + 600)
            .caused(Some(true))
            .names("fail"),
    )
    .incident(
        incident("i-stg", Some("api"), END - DAY + 600)
            .caused(Some(true))
            .names("stg"),
    )
    // By time, after stg/fail/eu but before ok: there is no production deployment yet.
    .incident(incident("i-early", Some("api"), END - 2 * DAY + 120).caused(Some(true)))
    // A staging incident: resolved in the window and caused, yet counts nowhere.
    .incident(
        incident("i-staging", Some("api"), END - DAY + 60)
            .env("staging")
            .resolved(END - DAY + 660)
            .caused(Some(true)),
    )
    .incident(
        incident("i-staging-untriaged", Some("api"), END - DAY + 60)
            .env("Staging")
            .resolved(END - DAY + 660),
    );
    let m = h.org();
    // Only "ok" counts: 1 / 30 per day, high.
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(m.deployment_frequency.band, Band::High);
    // c1 reaches production first in "ok": 3 days = 259200 s (<= 7 d: high).
    assert_eq!(m.lead_time.changes, 1);
    assert_close(m.lead_time.p50_seconds, 259_200.0);
    assert_eq!(m.lead_time.band, Some(Band::High));
    // 0 failed of 1: 0 %.
    assert_eq!(m.change_failure_rate.failed_deployments, 0);
    assert_eq!(m.change_failure_rate.percent, Some(0.0));
    // The staging incidents are neither MTTR samples nor untriaged.
    assert_eq!(m.mttr.incidents, 0);
    assert_eq!(m.mttr.missing_reason, Some(MTTR_NONE_RESOLVED));
    assert_eq!(m.untriaged_incidents, 0);
}

#[test]
fn production_may_be_spelled_prod_prd_or_production_in_any_case() {
    let mut h = History::new();
    for (k, env) in [
        "prod",
        "Production",
        " PRD ",
        "PROD",
        "production-eu",
        "preprod",
    ]
    .into_iter()
    .enumerate()
    {
        let k = k as i64;
        h.deploy(deploy(&format!("d{k}"), "api", END - (k + 1) * DAY).env(env));
    }
    h.incident(
        incident("i1", Some("api"), END - HOUR)
            .env("Prod")
            .resolved(END - HOUR + 600),
    );
    let m = h.org();
    // prod, Production, " PRD ", PROD: 4. Not production-eu or preprod.
    assert_eq!(m.deployment_frequency.deployments, 4);
    // The "Prod" incident is a production incident: one MTTR sample, 600 s.
    assert_eq!(m.mttr.incidents, 1);
    assert_eq!(m.mttr.p50_seconds, Some(600.0));

    // Configured names replace the defaults, still case-insensitive and trimmed.
    let mut live = History::with_config(MetricsConfig {
        production: ProductionEnvironments::new([" Live "]),
        ..MetricsConfig::default()
    });
    live.deploy(deploy("a", "api", END - DAY).env("LIVE"))
        .deploy(deploy("b", "api", END - DAY).env("production"));
    assert_eq!(live.org().deployment_frequency.deployments, 1);
}

#[test]
fn non_ascii_production_names_are_case_insensitive_too() {
    let p = ProductionEnvironments::new(["Produktion-Ö"]);
    assert!(p.contains("produktion-ö"));
    assert!(p.contains(" PRODUKTION-Ö "));
    assert!(!p.contains("produktion-o"));
}

// ---------------------------------------------------------------------------------------
// Change failure rate and attribution
// ---------------------------------------------------------------------------------------

#[test]
fn an_incident_naming_its_deployment_versus_one_attributed_by_time() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 3 * DAY))
        .deploy(deploy("d2", "api", END - 2 * DAY))
        .deploy(deploy("d3", "api", END - DAY + HOUR));
    // Opened after d3 but names d1: blames d1, not d3.
    h.incident(
        incident("named", Some("api"), END - DAY + 2 * HOUR)
            .caused(Some(true))
            .names("d1"),
    )
    // Names nothing: the latest api deployment at or before its opening, d2.
    .incident(incident("by-time", Some("api"), END - 2 * DAY + 1800).caused(Some(true)))
    // Opened before any deployment: blames nothing.
    .incident(incident("too-early", Some("api"), END - 4 * DAY).caused(Some(true)));
    // 30 days: failed d1, d2 of 3: 2/3 = 66.67 % (> 15 %: low).
    let m = h.org();
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(m.change_failure_rate.failed_deployments, 2);
    assert_close(m.change_failure_rate.percent, 200.0 / 3.0);
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    assert_eq!(m.change_failure_rate.attributed_organisation_wide, 0);
    // Which ones, one-day windows: (END-4d, END-3d] holds d1 only -> 1/1 = 100 %.
    let cfr = |end, days| {
        h.metrics(Scope::organisation(), end, days)
            .change_failure_rate
    };
    let d1 = cfr(END - 3 * DAY, 1);
    assert_eq!((d1.deployments, d1.failed_deployments), (1, 1));
    // (END-3d, END-2d] holds d2 only -> 1/1.
    let d2 = cfr(END - 2 * DAY, 1);
    assert_eq!((d2.deployments, d2.failed_deployments), (1, 1));
    // (END-1d, END] holds d3 only -> 0/1 = 0 %: "named" did not fall back to time.
    let d3 = cfr(END, 1);
    assert_eq!((d3.deployments, d3.failed_deployments), (1, 0));
    assert_eq!(d3.percent, Some(0.0));
}

#[test]
fn attribution_is_at_or_before_opening_and_not_limited_to_the_window() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 2 * DAY))
        .deploy(deploy("d2", "api", END - DAY))
        .deploy(deploy("w1", "web", END - HOUR));
    // Opened exactly when d2 was deployed: d2 (not d1).
    h.incident(incident("at", Some("api"), END - DAY).caused(Some(true)))
        // Opened five days after the window's end: still blames w1, the latest web
        // deployment at or before it, which is in the window.
        .incident(incident("later", Some("web"), END + 5 * DAY).caused(Some(true)));
    // 30 days: d1, d2, w1; failed d2, w1: 2/3.
    let m = h.org();
    assert_eq!(m.change_failure_rate.failed_deployments, 2);
    assert_close(m.change_failure_rate.percent, 200.0 / 3.0);
    // (END-3d, END-2d]: d1 only, not failed.
    let d1 = h.metrics(Scope::organisation(), END - 2 * DAY, 1);
    assert_eq!(d1.change_failure_rate.deployments, 1);
    assert_eq!(d1.change_failure_rate.failed_deployments, 0);
    // (END-2d, END-1d]: d2 only, failed.
    let d2 = h.metrics(Scope::organisation(), END - DAY, 1);
    assert_eq!(d2.change_failure_rate.deployments, 1);
    assert_eq!(d2.change_failure_rate.failed_deployments, 1);
    // web alone: w1 failed, 1/1 = 100 %.
    assert_eq!(h.service("web").change_failure_rate.percent, Some(100.0));
}

#[test]
fn one_deployment_that_caused_two_incidents_counts_once() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 2 * DAY))
        .deploy(deploy("d2", "api", END - DAY));
    h.incident(
        incident("i1", Some("api"), END - 2 * DAY + 600)
            .resolved(END - 2 * DAY + 1800)
            .caused(Some(true)),
    )
    .incident(
        incident("i2", Some("api"), END - 2 * DAY + 3000)
            .resolved(END - 2 * DAY + 4800)
            .caused(Some(true))
            .names("d1"),
    );
    // Both blame d1: 1 failed of 2 = 50 %.
    let m = h.org();
    assert_eq!(m.change_failure_rate.failed_deployments, 1);
    assert_eq!(m.change_failure_rate.percent, Some(50.0));
    // Both are caused: FDRT over [1200, 1800]: p50 = 1500, p90 = 1200 + 0.9*600 = 1740.
    let fdrt = &m.failed_deployment_recovery_time;
    assert_eq!(fdrt.incidents, 2);
    assert_close(fdrt.p50_seconds, 1500.0);
    assert_close(fdrt.p90_seconds, 1740.0);
    // FDRT has no band.
    assert_eq!(fdrt.band, None);
}

#[test]
fn explicit_false_beats_the_window_policy() {
    let t = END - DAY;
    let mut explicit = History::new();
    explicit
        .deploy(deploy("a1", "api", t))
        .deploy(deploy("w1", "web", t))
        .deploy(deploy("s1", "search", t))
        .deploy(deploy("o1", "ops", t))
        // api deploys again 200 s before a web incident: another service, never blamed.
        .deploy(deploy("a2", "api", t + 7000));
    // Untriaged 30 min after a1: blamed by the window policy.
    explicit
        .incident(
            incident("i-api", Some("api"), t + 1800)
                .resolved(t + 1800 + 600)
                .caused(None),
        )
        // Triaged false 30 min after w1: never blamed.
        .incident(
            incident("i-web", Some("web"), t + 1800)
                .resolved(t + 1800 + 1200)
                .caused(Some(false)),
        )
        // Untriaged 1 h 1 s after s1: outside the hour.
        .incident(
            incident("i-search", Some("search"), t + 3601)
                .resolved(t + 3601 + 1800)
                .caused(None),
        )
        // Untriaged exactly 1 h after o1: inside (the hour is closed).
        .incident(
            incident("i-ops", Some("ops"), t + 3600)
                .resolved(t + 3600 + 2400)
                .caused(None),
        )
        // Untriaged web incident 2 h after w1 (and 200 s after a2): not blamed.
        .incident(incident("i-web-2", Some("web"), t + 7200))
        // Untriaged and names no service, 60 s after four deployments: the window
        // policy never blames an incident with no service.
        .incident(incident("i-none", None, t + 60));
    let mut window = explicit.clone();
    window.config = window_policy();

    // explicit: nothing triaged true -> 0 failed of 5 = 0 %; FDRT empty.
    let m = explicit.org();
    assert_eq!(m.change_failure_rate.deployments, 5);
    assert_eq!(m.change_failure_rate.failed_deployments, 0);
    assert_eq!(m.change_failure_rate.percent, Some(0.0));
    assert_eq!(m.failed_deployment_recovery_time.incidents, 0);
    assert_eq!(
        m.failed_deployment_recovery_time.missing_reason,
        Some(MTTR_NONE_RESOLVED)
    );
    // Untriaged: i-api, i-search, i-ops, i-web-2, i-none = 5 (under either policy).
    assert_eq!(m.untriaged_incidents, 5);

    // window: a1 (by i-api) and o1 (by i-ops) failed: 2 of 5 = 40 % (low).
    let m = window.org();
    assert_eq!(m.change_failure_rate.failed_deployments, 2);
    assert_eq!(m.change_failure_rate.percent, Some(40.0));
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    assert_eq!(m.change_failure_rate.attributed_organisation_wide, 0);
    assert_eq!(m.untriaged_incidents, 5);
    // MTTR over all four resolved: [600, 1200, 1800, 2400]
    // p50 h = 1.5 -> 1200 + 0.5*600 = 1500; p90 h = 2.7 -> 1800 + 0.7*600 = 2220.
    assert_eq!(m.mttr.incidents, 4);
    assert_close(m.mttr.p50_seconds, 1500.0);
    assert_close(m.mttr.p90_seconds, 2220.0);
    // FDRT over the two blamed: [600, 2400]: p50 = 1500, p90 = 600 + 0.9*1800 = 2220.
    let fdrt = &m.failed_deployment_recovery_time;
    assert_eq!(fdrt.incidents, 2);
    assert_close(fdrt.p50_seconds, 1500.0);
    assert_close(fdrt.p90_seconds, 2220.0);
    // Per service: web 0 of 1 failed (explicit false), api 1 of 2.
    assert_eq!(
        window.service("web").change_failure_rate.failed_deployments,
        0
    );
    assert_eq!(
        window.service("api").change_failure_rate.percent,
        Some(50.0)
    );
}

#[test]
fn an_incident_with_no_service_is_organisation_only_and_flagged() {
    let mut h = History::new();
    h.map_team("api", "payments").map_team("web", "payments");
    h.deploy(deploy("a1", "api", END - DAY))
        .deploy(deploy("w1", "web", END - DAY + HOUR));
    // No service: attributed to the latest production deployment of any service, w1.
    h.incident(
        incident("i-none", None, END - DAY + 2 * HOUR)
            .resolved(END - DAY + 2 * HOUR + 600)
            .caused(Some(true)),
    )
    .incident(
        incident("i-api", Some("api"), END - DAY + 3 * HOUR)
            .resolved(END - DAY + 3 * HOUR + 1200)
            .caused(Some(false)),
    )
    // Untriaged with no service: untriaged only in the organisation scope.
    .incident(incident("u-none", None, END - HOUR));

    // Organisation: CFR 1/2 = 50 %, flagged organisation-wide; MTTR [600, 1200],
    // p50 = 900; FDRT [600]; untriaged 1.
    let m = h.org();
    assert_eq!(m.change_failure_rate.failed_deployments, 1);
    assert_eq!(m.change_failure_rate.percent, Some(50.0));
    assert_eq!(m.change_failure_rate.attributed_organisation_wide, 1);
    assert_eq!(m.mttr.incidents, 2);
    assert_close(m.mttr.p50_seconds, 900.0);
    assert_eq!(m.failed_deployment_recovery_time.incidents, 1);
    assert_eq!(m.failed_deployment_recovery_time.p50_seconds, Some(600.0));
    assert_eq!(m.untriaged_incidents, 1);
    // web: its deployment failed (1/1 = 100 %, flagged), but the incident with no
    // service is not one of web's: no MTTR sample.
    let web = h.service("web");
    assert_eq!(web.change_failure_rate.percent, Some(100.0));
    assert_eq!(web.change_failure_rate.attributed_organisation_wide, 1);
    assert_eq!(web.mttr.incidents, 0);
    assert_eq!(web.mttr.missing_reason, Some(MTTR_NONE_RESOLVED));
    assert_eq!(web.failed_deployment_recovery_time.incidents, 0);
    assert_eq!(web.untriaged_incidents, 0);
    // Team payments (api + web): CFR 1/2, MTTR only i-api [1200], untriaged 0.
    let team = h.team("payments");
    assert_eq!(team.change_failure_rate.percent, Some(50.0));
    assert_eq!(team.change_failure_rate.attributed_organisation_wide, 1);
    assert_eq!(team.mttr.incidents, 1);
    assert_eq!(team.mttr.p50_seconds, Some(1200.0));
    assert_eq!(team.failed_deployment_recovery_time.incidents, 0);
    assert_eq!(team.untriaged_incidents, 0);

    // An incident that names web also blames w1: the blame is no longer only
    // organisation-wide, so the flag goes; still one failed deployment.
    h.incident(incident("i-web", Some("web"), END - DAY + HOUR + 1800).caused(Some(true)));
    let m = h.org();
    assert_eq!(m.change_failure_rate.failed_deployments, 1);
    assert_eq!(m.change_failure_rate.attributed_organisation_wide, 0);
}

#[test]
fn a_caused_incident_that_blames_no_deployment_still_counts_for_recovery_time() {
    // Documented behaviour: "counts as caused" is a property of the incident (triage, or
    // the window policy); FDRT takes every such incident even when the deployment it
    // names is unknown, so that a triaged outage is never dropped from recovery time.
    let mut h = History::new();
    h.incident(
        incident("i1", Some("api"), END - DAY)
            .resolved(END - DAY + 900)
            .caused(Some(true))
            .names("no-such-deployment"),
    );
    let m = h.org();
    assert_eq!(m.change_failure_rate.percent, None);
    assert_eq!(m.failed_deployment_recovery_time.incidents, 1);
    assert_eq!(m.failed_deployment_recovery_time.p50_seconds, Some(900.0));
}

// ---------------------------------------------------------------------------------------
// Incidents: resolution and deliveries
// ---------------------------------------------------------------------------------------

#[test]
fn an_unresolved_incident_is_no_mttr_sample() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - 2 * DAY));
    h.incident(incident("i1", Some("api"), END - DAY));
    let m = h.org();
    assert_eq!(m.mttr.incidents, 0);
    assert_eq!(m.mttr.p50_seconds, None);
    assert_eq!(m.mttr.band, None);
    assert_eq!(m.mttr.missing_reason, Some(MTTR_NONE_RESOLVED));
    // It is untriaged and opened in the window.
    assert_eq!(m.untriaged_incidents, 1);
    // MTTR null makes the overall band null.
    assert_eq!(m.overall_band, None);
}

#[test]
fn an_incident_opened_then_resolved_in_separate_deliveries() {
    let opened = END - DAY + 600;
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - DAY));
    h.incident(incident("i1", Some("api"), opened));
    let m = h.org();
    assert_eq!(m.mttr.incidents, 0);
    assert_eq!(m.untriaged_incidents, 1);

    // Second delivery: only the resolution. Service, opening and triage are kept.
    h.incident(update("i1").resolved(opened + 1800));
    let m = h.org();
    // 1800 s, elite.
    assert_eq!(m.mttr.incidents, 1);
    assert_eq!(m.mttr.p50_seconds, Some(1800.0));
    assert_eq!(m.mttr.band, Some(Band::Elite));
    assert_eq!(m.change_failure_rate.failed_deployments, 0);
    assert_eq!(h.events.incidents[0].service.as_deref(), Some("api"));

    // Third: triaged as caused. d1 fails (1/1 = 100 %), FDRT [1800], no longer untriaged.
    h.incident(update("i1").caused(Some(true)));
    let m = h.org();
    assert_eq!(m.change_failure_rate.percent, Some(100.0));
    assert_eq!(m.failed_deployment_recovery_time.p50_seconds, Some(1800.0));
    assert_eq!(m.untriaged_incidents, 0);

    // Reopened (resolved_at cleared): open again, no MTTR sample; still caused.
    h.incident(update("i1").reopened());
    let m = h.org();
    assert_eq!(m.mttr.incidents, 0);
    assert_eq!(m.change_failure_rate.percent, Some(100.0));

    // Finally resolved 2 h after the first opening: 7200 s (first opening to final
    // resolution), high.
    h.incident(update("i1").resolved(opened + 7200));
    let m = h.org();
    assert_eq!(m.mttr.p50_seconds, Some(7200.0));
    assert_eq!(m.mttr.band, Some(Band::High));

    // A resolution before the opening is refused and changes nothing.
    let err = h
        .events
        .record_incident(update("i1").resolved(opened - 1))
        .unwrap_err();
    assert!(matches!(err, IncidentError::ResolvedBeforeOpened { .. }));
    assert_eq!(h.org().mttr.p50_seconds, Some(7200.0));
    // A new incident needs an opening.
    let err = h.events.record_incident(update("i2")).unwrap_err();
    assert_eq!(err, IncidentError::MissingOpenedAt);
    assert_eq!(h.events.incidents.len(), 1);
}

#[test]
fn a_redelivered_deployment_keeps_its_first_recording() {
    let mut h = History::new();
    h.deploy(deploy("d1", "api", END - DAY).change("c1", END - DAY - 600));
    // Same id, different content: ignored.
    assert!(
        !h.events
            .record_deployment(deploy("d1", "web", END - HOUR).change("c1", END - 5 * DAY))
    );
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_close(m.lead_time.p50_seconds, 600.0);
    assert_eq!(h.service("web").deployment_frequency.deployments, 0);
}

// ---------------------------------------------------------------------------------------
// Scopes and teams
// ---------------------------------------------------------------------------------------

#[test]
fn team_scope_versus_service_scope_versus_organisation() {
    let mut h = History::new();
    h.map_team("api", "payments");
    // api is configured: its deployment naming "search-team" does not move it.
    h.deploy(deploy("a1", "api", END - 5 * DAY).team("search-team"))
        // web: the latest deployment naming a team names payments (w2 names none).
        .deploy(deploy("w1", "web", END - 4 * DAY).team("payments"))
        .deploy(deploy("w2", "web", END - 3 * DAY))
        // search: a later staging deployment names discovery: any environment counts
        // for membership (never for figures); a later failed one names none.
        .deploy(deploy("s1", "search", END - 4 * DAY).team("payments"))
        .deploy(
            deploy("s2", "search", END - 2 * DAY)
                .env("staging")
                .team("discovery"),
        )
        .deploy(deploy("s3", "search", END - DAY).failed());
    for (id, service, minutes) in [
        ("ia", Some("api"), 10),
        ("in", None, 20),
        ("is", Some("search"), 30),
    ] {
        h.incident(
            incident(id, service, END - DAY)
                .resolved(END - DAY + minutes * 60)
                .caused(Some(false)),
        );
    }
    let teams = h.teams();
    assert_eq!(teams.team_of("api"), Some("payments"));
    assert_eq!(teams.team_of("web"), Some("payments"));
    assert_eq!(teams.team_of("search"), Some("discovery"));
    assert_eq!(
        teams.teams().into_iter().collect::<Vec<_>>(),
        ["discovery", "payments"]
    );

    // Organisation: a1, w1, w2, s1 = 4; MTTR [600, 1200, 1800]: p50 1200,
    // p90 h = 1.8 -> 1200 + 0.8*600 = 1680.
    let m = h.org();
    assert_eq!(m.deployment_frequency.deployments, 4);
    assert_eq!(m.mttr.incidents, 3);
    assert_close(m.mttr.p50_seconds, 1200.0);
    assert_close(m.mttr.p90_seconds, 1680.0);
    // payments = api + web: a1, w1, w2 = 3; MTTR [600] (the incident with no service is
    // not the team's).
    let m = h.team("payments");
    assert_eq!(m.deployment_frequency.deployments, 3);
    assert_eq!(m.mttr.incidents, 1);
    assert_eq!(m.mttr.p50_seconds, Some(600.0));
    // discovery = search: s1 = 1; MTTR [1800].
    let m = h.team("discovery");
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(m.mttr.p50_seconds, Some(1800.0));
    // web alone: w1, w2 = 2; no incidents of its own.
    let m = h.service("web");
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.mttr.incidents, 0);
    // Service and team together: the service if it is the team's, else nothing.
    let both = |service: &str, team: &str| Scope {
        service: Some(service.into()),
        team: Some(team.into()),
    };
    let m = h.metrics(both("api", "payments"), END, 30);
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(m.mttr.incidents, 1);
    let m = h.metrics(both("api", "discovery"), END, 30);
    assert_eq!(m.deployment_frequency.deployments, 0);
    assert_eq!(m.mttr.incidents, 0);
    // An unknown team has nothing.
    assert_eq!(h.team("nobody").deployment_frequency.deployments, 0);
}

#[test]
fn team_named_by_deployments_breaks_ties_by_id_whatever_the_order() {
    let at = Timestamp::from_seconds(END - DAY);
    let a = deploy("ops-a", "ops", at).team("blue");
    let b = deploy("ops-b", "ops", at).team("red");
    let forward = TeamMap::from_deployments(BTreeMap::new(), [&a, &b]);
    let backward = TeamMap::from_deployments(BTreeMap::new(), [&b, &a]);
    // Same deployed_at: the larger id (ops-b) is the latest.
    assert_eq!(forward.team_of("ops"), Some("red"));
    assert_eq!(backward.team_of("ops"), Some("red"));
}

// ---------------------------------------------------------------------------------------
// Bands
// ---------------------------------------------------------------------------------------

/// Three api deployments in 30 days, each with one 2 h change; one caused incident.
fn banded_history() -> History {
    let mut h = History::new();
    for k in 1..=3 {
        let at = END - k * 5 * DAY;
        h.deploy(deploy(&format!("d{k}"), "api", at).change(&format!("c{k}"), at - 7200));
    }
    h.incident(
        incident("i1", Some("api"), END - 5 * DAY + 600)
            .resolved(END - 5 * DAY + 600 + 7200)
            .caused(Some(true)),
    );
    h
}

#[test]
fn default_bands_follow_the_handbook_table() {
    let m = banded_history().org();
    // DF 3/30 = 0.1 per day: >= 1/30 -> high.
    assert_close(Some(m.deployment_frequency.per_day), 0.1);
    assert_eq!(m.deployment_frequency.band, Band::High);
    // Lead p50 7200 s: not < 1 h, <= 7 d -> high.
    assert_eq!(m.lead_time.band, Some(Band::High));
    // CFR 1/3 = 33.3 %: > 15 % -> low.
    assert_close(m.change_failure_rate.percent, 100.0 / 3.0);
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    // MTTR p50 7200 s: not < 1 h, < 1 d -> high.
    assert_eq!(m.mttr.band, Some(Band::High));
    // Overall: worst of (high, high, low, high) = low.
    assert_eq!(m.overall_band, Some(Band::Low));
}

#[test]
fn configurable_thresholds_change_the_bands() {
    let mut bands = BandThresholds::default();
    // DF 0.1 > 0.05 -> elite.
    bands.deployment_frequency.elite_above_per_day = 0.05;
    bands.deployment_frequency.high_from_per_day = 0.02;
    bands.deployment_frequency.medium_from_per_day = 0.01;
    // Lead 7200 < 3 h -> elite.
    bands.lead_time.elite_below_seconds = 3.0 * 3600.0;
    // CFR 33.3 % <= 40 -> medium.
    bands.change_failure_rate.medium_up_to_percent = 40.0;
    // MTTR 7200: not < 7200 -> not high; <= 7 d -> medium.
    bands.mttr.high_below_seconds = 7200.0;
    bands.validate().expect("ordered thresholds");
    let mut h = banded_history();
    h.config.bands = bands;
    let m = h.org();
    assert_eq!(m.deployment_frequency.band, Band::Elite);
    assert_eq!(m.lead_time.band, Some(Band::Elite));
    assert_eq!(m.change_failure_rate.band, Some(Band::Medium));
    assert_eq!(m.mttr.band, Some(Band::Medium));
    // Overall: worst of (elite, elite, medium, medium) = medium.
    assert_eq!(m.overall_band, Some(Band::Medium));

    let mut unordered = BandThresholds::default();
    unordered.mttr.elite_below_seconds = 2.0 * 86400.0;
    assert!(unordered.validate().is_err());
}

#[test]
fn overall_band_is_the_worst_of_four_and_null_if_any_is_null() {
    let mut h = History::new();
    h.deploy(deploy("a1", "api", END - 10 * HOUR).change("c1", END - 10 * HOUR - 600))
        .deploy(deploy("a2", "api", END - 5 * HOUR).change("c2", END - 5 * HOUR - 1200))
        .deploy(deploy("w1", "web", END - HOUR));
    let day = |h: &History, scope: Scope| h.metrics(scope, END, 1);
    // api over one day: DF 2/1 = 2 per day > 1 -> elite; lead [600, 1200] p50 900 ->
    // elite; CFR 0/2 = 0 % -> elite; MTTR: no incident feed -> null. Overall: null.
    let m = day(&h, Scope::service("api"));
    assert_eq!(m.deployment_frequency.band, Band::Elite);
    assert_eq!(m.lead_time.band, Some(Band::Elite));
    assert_eq!(m.change_failure_rate.band, Some(Band::Elite));
    assert_eq!(m.mttr.band, None);
    assert_eq!(m.overall_band, None);

    // An incident resolved in 1200 s: MTTR elite -> all four elite.
    h.incident(
        incident("i1", Some("api"), END - 2 * HOUR)
            .resolved(END - 2 * HOUR + 1200)
            .caused(Some(false)),
    );
    assert_eq!(
        day(&h, Scope::service("api")).overall_band,
        Some(Band::Elite)
    );

    // An incident caused by a2: CFR 1/2 = 50 % -> low, so overall low.
    h.incident(incident("i2", Some("api"), END - 5 * HOUR + 60).caused(Some(true)));
    let m = day(&h, Scope::service("api"));
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    assert_eq!(m.overall_band, Some(Band::Low));

    // web carries no changes: lead time null -> overall null (whatever the others are).
    let m = day(&h, Scope::service("web"));
    assert_eq!(m.deployment_frequency.band, Band::High); // 1 per day: not > 1
    assert_eq!(m.lead_time.band, None);
    assert_eq!(m.overall_band, None);
}

// ---------------------------------------------------------------------------------------
// Triage candidates
// ---------------------------------------------------------------------------------------

#[test]
fn triage_candidates_are_the_production_deployments_of_the_hour_before() {
    let t = END - DAY;
    let deployments = vec![
        deploy("edge", "api", t - 3600),
        deploy("too-old", "api", t - 3601),
        deploy("after", "api", t + 1),
        deploy("other", "web", t - 10),
        deploy("stg", "api", t - 5).env("staging"),
        deploy("failed", "api", t - 5).failed(),
        deploy("at", "api", t),
    ];
    let config = MetricsConfig::default();
    let api = pacer_core::Incident {
        id: "i".into(),
        service: Some("api".into()),
        environment: "production".into(),
        opened_at: Timestamp::from_seconds(t),
        resolved_at: None,
        severity: None,
        caused_by_deploy: None,
        deployment_id: None,
        ..pacer_core::Incident::default()
    };
    let ids = |incident: &pacer_core::Incident| {
        candidate_deployments(&deployments, &config, incident)
            .into_iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
    };
    // Newest first, within [t - 1 h, t], of the incident's service.
    assert_eq!(ids(&api), ["at", "edge"]);
    // With no service, any service's.
    let none = pacer_core::Incident {
        service: None,
        ..api.clone()
    };
    assert_eq!(ids(&none), ["at", "other", "edge"]);
}
