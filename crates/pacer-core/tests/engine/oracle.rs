//! A deliberately naive reference implementation of the metric contract
//! (`shared/spec/metrics.md` plus the documented interpretations), written straight from
//! the text without the engine's indexes: every question is answered by scanning the
//! whole history. The property tests check the engine against it.

use pacer_core::band::LOW_CONFIDENCE_BELOW_SAMPLES;
use pacer_core::engine::{
    ChangeFailureRate, DeploymentFrequency, LeadTime, MTTR_NO_FEED, MTTR_NONE_RESOLVED, Metrics,
    Restore, ReworkRate, ReworkReasons,
};
use pacer_core::quantile::quantile;
use pacer_core::{
    AttributionPolicy, DeployStatus, Deployment, EventSet, Incident, MetricsConfig, Scope, TeamMap,
    Timestamp, Window,
};

pub fn metrics(
    events: &EventSet,
    config: &MetricsConfig,
    teams: &TeamMap,
    scope: &Scope,
    window: Window,
) -> Metrics {
    let is_prod = |env: &str| {
        let env = env.trim().to_lowercase();
        config.production.names().contains(&env)
    };
    // Only successful production deployments count anywhere.
    let counts = |d: &Deployment| d.status == DeployStatus::Success && is_prod(&d.environment);
    let order = |d: &Deployment| (d.deployed_at, d.id.clone());
    let service_in_scope = |service: &str| match (&scope.service, &scope.team) {
        (None, None) => true,
        (Some(s), None) => s == service,
        (None, Some(t)) => teams.team_of(service) == Some(t.as_str()),
        (Some(s), Some(t)) => s == service && teams.team_of(service) == Some(t.as_str()),
    };
    // An incident with no service is only in the organisation scope.
    let incident_in_scope = |i: &Incident| match &i.service {
        None => scope.is_organisation(),
        Some(s) => service_in_scope(s),
    };

    let in_window: Vec<&Deployment> = events
        .deployments
        .iter()
        .filter(|d| counts(d) && service_in_scope(&d.service) && window.contains(d.deployed_at))
        .collect();
    let n = in_window.len();

    // Deployment frequency.
    let per_day = n as f64 / f64::from(window.days);
    let deployment_frequency = DeploymentFrequency {
        deployments: n,
        per_day,
        band: config.bands.deployment_frequency(per_day),
        low_confidence: n < LOW_CONFIDENCE_BELOW_SAMPLES,
    };

    // Lead time: a change counts in the first successful production deployment of its
    // service (by deployed-at, then id) that carries it.
    let mut lead = Vec::new();
    let mut skewed = 0;
    for d in &in_window {
        let mut ids: Vec<&str> = d.changes.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let carried_earlier = events.deployments.iter().any(|e| {
                counts(e)
                    && e.service == d.service
                    && e.changes.iter().any(|c| c.id == id)
                    && order(e) < order(d)
            });
            if carried_earlier {
                continue;
            }
            let started: Timestamp = d
                .changes
                .iter()
                .filter(|c| c.id == id)
                .map(|c| c.started_at)
                .min()
                .expect("the change is carried");
            if started > d.deployed_at {
                skewed += 1;
                lead.push(0.0);
            } else {
                lead.push(d.deployed_at.seconds_since(started));
            }
        }
        if let Some(s) = d.lead_time_seconds {
            if s < 0.0 {
                skewed += 1;
                lead.push(0.0);
            } else {
                lead.push(s);
            }
        }
    }
    let lead_p50 = quantile(&lead, 0.5);
    let lead_time = LeadTime {
        changes: lead.len(),
        p50_seconds: lead_p50,
        p90_seconds: quantile(&lead, 0.9),
        band: lead_p50.map(|p| config.bands.lead_time(p)),
        low_confidence: lead.len() < LOW_CONFIDENCE_BELOW_SAMPLES,
        changes_started_after_deployment: skewed,
    };

    // Attribution of an incident: (deployment, attributed organisation-wide by time).
    let attributed = |i: &Incident| -> (Option<&Deployment>, bool) {
        if let Some(named) = &i.deployment_id {
            return (
                events
                    .deployments
                    .iter()
                    .find(|d| counts(d) && &d.id == named),
                false,
            );
        }
        let latest = events
            .deployments
            .iter()
            .filter(|d| {
                counts(d)
                    && d.deployed_at <= i.opened_at
                    && i.service.as_ref().is_none_or(|s| *s == d.service)
            })
            .max_by_key(|d| order(d));
        (latest, i.service.is_none())
    };
    let caused = |i: &Incident| match i.caused_by_deploy {
        Some(flag) => flag,
        None => {
            config.attribution == AttributionPolicy::Window
                && attributed(i).0.is_some_and(|d| {
                    i.service.as_deref() == Some(d.service.as_str())
                        && d.deployed_at <= i.opened_at
                        && i.opened_at.minus_seconds(3600) <= d.deployed_at
                })
        }
    };
    let production_incidents: Vec<&Incident> = events
        .incidents
        .iter()
        .filter(|i| is_prod(&i.environment))
        .collect();

    // Change failure rate.
    let mut failed = 0;
    let mut org_wide = 0;
    for d in &in_window {
        let blamers: Vec<bool> = production_incidents
            .iter()
            .filter(|i| caused(i))
            .filter_map(|i| {
                let (dep, org) = attributed(i);
                dep.filter(|dep| dep.id == d.id).map(|_| org)
            })
            .collect();
        if !blamers.is_empty() {
            failed += 1;
            if blamers.iter().all(|&org| org) {
                org_wide += 1;
            }
        }
    }
    let percent = (n > 0).then(|| failed as f64 / n as f64 * 100.0);
    let change_failure_rate = ChangeFailureRate {
        deployments: n,
        failed_deployments: failed,
        percent,
        band: percent.map(|p| config.bands.change_failure_rate(p)),
        low_confidence: n < LOW_CONFIDENCE_BELOW_SAMPLES,
        attributed_organisation_wide: org_wide,
    };

    // Time to restore, failed deployment recovery time, untriaged incidents.
    let mut restore = Vec::new();
    let mut recovery = Vec::new();
    let mut untriaged = 0;
    for i in production_incidents.iter().filter(|i| incident_in_scope(i)) {
        if i.caused_by_deploy.is_none() && window.contains(i.opened_at) {
            untriaged += 1;
        }
        if let Some(resolved) = i.resolved_at
            && window.contains(resolved)
        {
            let seconds = resolved.seconds_since(i.opened_at).max(0.0);
            restore.push(seconds);
            if caused(i) {
                recovery.push(seconds);
            }
        }
    }
    let restore_of = |seconds: &[f64], banded: bool| {
        let p50 = quantile(seconds, 0.5);
        Restore {
            incidents: seconds.len(),
            p50_seconds: p50,
            p90_seconds: quantile(seconds, 0.9),
            band: p50.filter(|_| banded).map(|p| config.bands.mttr(p)),
            low_confidence: seconds.len() < LOW_CONFIDENCE_BELOW_SAMPLES,
            missing_reason: match (p50, events.incident_feed_seen) {
                (Some(_), _) => None,
                (None, false) => Some(MTTR_NO_FEED),
                (None, true) => Some(MTTR_NONE_RESOLVED),
            },
        }
    };
    let mttr = restore_of(&restore, true);
    let failed_deployment_recovery_time = restore_of(&recovery, false);

    let bands = [
        Some(deployment_frequency.band),
        lead_time.band,
        change_failure_rate.band,
        mttr.band,
    ];
    let overall_band = if bands.iter().any(Option::is_none) {
        None
    } else {
        bands.into_iter().flatten().max()
    };

    // Rework rate: unplanned by the sender's mark, a rule, or a redeployed sha (the sha of
    // an earlier deployment of the service, replacing a different known sha).
    let mut by_reason = ReworkReasons::default();
    let mut unplanned = 0;
    for d in &in_window {
        let earlier: Vec<&Deployment> = events
            .deployments
            .iter()
            .filter(|e| counts(e) && e.service == d.service && order(e) < order(d))
            .collect();
        let previous = earlier.iter().max_by_key(|e| order(e));
        let redeployed = match (&d.sha, previous.and_then(|p| p.sha.as_ref())) {
            (Some(sha), Some(prev)) => {
                sha != prev && earlier.iter().any(|e| e.sha.as_ref() == Some(sha))
            }
            _ => false,
        };
        let sender = d.hotfix || d.rollback;
        let rule = config.rework.matches(d.branch.as_deref(), &d.labels);
        if sender || rule || redeployed {
            unplanned += 1;
        }
        by_reason.sender += usize::from(sender);
        by_reason.rule += usize::from(rule);
        by_reason.redeployed_sha += usize::from(redeployed);
    }
    let rework_rate = ReworkRate {
        deployments: n,
        unplanned_deployments: unplanned,
        percent: (n > 0).then(|| unplanned as f64 / n as f64 * 100.0),
        by_reason,
    };

    Metrics {
        scope: scope.clone(),
        window,
        deployment_frequency,
        lead_time,
        change_failure_rate,
        mttr,
        failed_deployment_recovery_time,
        untriaged_incidents: untriaged,
        overall_band,
        rework_rate,
        chaos_advisory: None,
    }
}
