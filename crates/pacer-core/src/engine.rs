//! The metric engine: every figure of `docs/metrics.md`, computed from events and a window.
//!
//! [`Prepared`] does the window-independent work once (production filter, orderings,
//! attribution of incidents to deployments, first carrier of each change) so that a report
//! can compute hundreds of scopes from one load.

use crate::band::{Band, LOW_CONFIDENCE_BELOW_SAMPLES};
use crate::config::{ATTRIBUTION_WINDOW_SECONDS, AttributionPolicy, MetricsConfig};
use crate::event::{DeployStatus, Deployment, Incident};
use crate::quantile::quantile_sorted;
use crate::scope::{Scope, ScopeFilter, TeamMap};
use crate::time::{Timestamp, Window};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The events a computation sees. For exact figures over a window it must hold at least
/// what `docs/architecture.md` lists (the store's window load guarantees it); the whole
/// history always qualifies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSet {
    pub deployments: Vec<Deployment>,
    pub incidents: Vec<Incident>,
    /// Whether any incident was ever received (from any feed). When false, MTTR is
    /// missing because there is no incident feed, not because nothing broke.
    pub incident_feed_seen: bool,
}

/// Why a time-to-restore figure is missing.
pub const MTTR_NO_FEED: &str = "no incident data has been received: MTTR comes only from an incident feed (PagerDuty, OpsGenie, Alertmanager or POST /api/v1/incidents) and is never estimated from deployments";
pub const MTTR_NONE_RESOLVED: &str =
    "no production incident in this scope was resolved in the window";
/// Hint shown when failures were attributed organisation-wide by time.
pub const ORG_WIDE_HINT: &str = "some incidents name no service and were attributed to the latest production deployment of any service; send the incident's service (or its deployment_id) for exact attribution";

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFrequency {
    pub deployments: usize,
    pub per_day: f64,
    pub band: Band,
    pub low_confidence: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadTime {
    pub changes: usize,
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub band: Option<Band>,
    pub low_confidence: bool,
    /// Changes that started after their deployment (clock skew), counted as 0 s.
    pub changes_started_after_deployment: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFailureRate {
    pub deployments: usize,
    pub failed_deployments: usize,
    pub percent: Option<f64>,
    pub band: Option<Band>,
    pub low_confidence: bool,
    /// Failed deployments whose only blame came from incidents that name no service.
    pub attributed_organisation_wide: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    pub incidents: usize,
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub band: Option<Band>,
    pub low_confidence: bool,
    pub missing_reason: Option<&'static str>,
}

/// How many unplanned deployments each reason made. A deployment with several reasons
/// counts under each, so the three may add up to more than `unplanned_deployments`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReworkReasons {
    /// Marked `hotfix` or `rollback` by the sender.
    pub sender: usize,
    /// Matched a `metrics.rework` branch or label rule.
    pub rule: usize,
    /// Brought back a sha the service ran before, replacing a different one (a rollback).
    pub redeployed_sha: usize,
}

/// Rework rate (DORA 2024): the share of successful production deployments that were
/// unplanned. No band: the 2024 report gives none.
#[derive(Debug, Clone, PartialEq)]
pub struct ReworkRate {
    /// Successful production deployments in the window.
    pub deployments: usize,
    pub unplanned_deployments: usize,
    /// `unplanned_deployments / deployments` in percent; `None` with no deployments.
    pub percent: Option<f64>,
    pub by_reason: ReworkReasons,
}

/// Why one deployment is unplanned (all false: planned).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Unplanned {
    sender: bool,
    rule: bool,
    redeployed_sha: bool,
}

impl Unplanned {
    fn any(self) -> bool {
        self.sender || self.rule || self.redeployed_sha
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub scope: Scope,
    pub window: Window,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub mttr: Restore,
    /// Time to restore over only the incidents caused by a deployment (no band).
    pub failed_deployment_recovery_time: Restore,
    pub untriaged_incidents: usize,
    pub overall_band: Option<Band>,
    /// Not part of the overall band: it has no band.
    pub rework_rate: ReworkRate,
    /// Filled by callers that ask for it ([`crate::advisory::chaos_advisory`]); the
    /// figures of one window never set it.
    pub chaos_advisory: Option<crate::advisory::ChaosAdvisory>,
}

/// Computes one scope over one window from the whole of `events`.
pub fn compute(
    events: &EventSet,
    config: &MetricsConfig,
    teams: &TeamMap,
    scope: &Scope,
    window: Window,
) -> Metrics {
    Prepared::new(events, config).metrics(teams, scope, window)
}

#[derive(Debug, Clone)]
struct PreparedIncident {
    idx: usize,
    /// Whether it counts as caused by a deployment under the policy.
    caused: bool,
    /// The successful production deployment it is attributed to, if any.
    attributed: Option<usize>,
}

/// Window-independent indexes over an [`EventSet`].
pub struct Prepared<'a> {
    events: &'a EventSet,
    config: &'a MetricsConfig,
    /// Successful production deployments, sorted by (deployed_at, id).
    prod: Vec<usize>,
    prod_by_service: HashMap<&'a str, Vec<usize>>,
    /// For each (service, change id): the deployment that first carried it to production.
    first_carrier: HashMap<(&'a str, &'a str), usize>,
    /// Production incidents by service (`None`: names no service).
    incidents_by_service: HashMap<Option<&'a str>, Vec<PreparedIncident>>,
    /// Failed deployments: deployment index -> blamed only by organisation-wide attribution.
    failed: HashMap<usize, bool>,
    /// Unplanned successful production deployments and why.
    unplanned: HashMap<usize, Unplanned>,
}

fn order_key(d: &Deployment) -> (Timestamp, &str) {
    (d.deployed_at, d.id.as_str())
}

/// The last index in `sorted` whose deployment was deployed at or before `t`.
fn latest_at_or_before(
    deployments: &[Deployment],
    sorted: &[usize],
    t: Timestamp,
) -> Option<usize> {
    let n = sorted.partition_point(|&i| deployments[i].deployed_at <= t);
    n.checked_sub(1).map(|k| sorted[k])
}

impl<'a> Prepared<'a> {
    pub fn new(events: &'a EventSet, config: &'a MetricsConfig) -> Self {
        let deployments = &events.deployments;
        let mut prod: Vec<usize> = (0..deployments.len())
            .filter(|&i| {
                let d = &deployments[i];
                d.status == DeployStatus::Success && config.production.contains(&d.environment)
            })
            .collect();
        prod.sort_by(|&a, &b| order_key(&deployments[a]).cmp(&order_key(&deployments[b])));
        // Duplicate ids cannot come from the store; keep the first in order if a caller
        // hands them in anyway, so that a re-delivery never counts twice.
        let mut seen = HashSet::new();
        prod.retain(|&i| seen.insert(deployments[i].id.as_str()));

        let mut prod_by_service: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut first_carrier: HashMap<(&str, &str), usize> = HashMap::new();
        for &i in &prod {
            let d = &deployments[i];
            prod_by_service
                .entry(d.service.as_str())
                .or_default()
                .push(i);
            for c in &d.changes {
                // `prod` is in deployment order, so the first insert is the first carrier.
                first_carrier
                    .entry((d.service.as_str(), c.id.as_str()))
                    .or_insert(i);
            }
        }
        let unplanned = unplanned(deployments, &prod_by_service, config);
        let prod_by_id: HashMap<&str, usize> = prod
            .iter()
            .map(|&i| (deployments[i].id.as_str(), i))
            .collect();

        let mut incidents_by_service: HashMap<Option<&str>, Vec<PreparedIncident>> = HashMap::new();
        let mut failed: HashMap<usize, bool> = HashMap::new();
        let mut seen_incidents = HashSet::new();
        for (idx, inc) in events.incidents.iter().enumerate() {
            if !config.production.contains(&inc.environment)
                || !seen_incidents.insert(inc.id.as_str())
            {
                continue;
            }
            let (attributed, org_wide) = match (&inc.deployment_id, &inc.service) {
                // A named deployment that is not a successful production deployment (or is
                // unknown) blames nothing that counts.
                (Some(named), _) => (prod_by_id.get(named.as_str()).copied(), false),
                (None, Some(service)) => (
                    prod_by_service
                        .get(service.as_str())
                        .and_then(|list| latest_at_or_before(deployments, list, inc.opened_at)),
                    false,
                ),
                (None, None) => (latest_at_or_before(deployments, &prod, inc.opened_at), true),
            };
            let caused = match inc.caused_by_deploy {
                Some(flag) => flag,
                None => {
                    config.attribution == AttributionPolicy::Window
                        && attributed.is_some_and(|d| {
                            let d = &deployments[d];
                            inc.service.as_deref() == Some(d.service.as_str())
                                && d.deployed_at <= inc.opened_at
                                && inc.opened_at.minus_seconds(ATTRIBUTION_WINDOW_SECONDS)
                                    <= d.deployed_at
                        })
                }
            };
            if caused && let Some(d) = attributed {
                let only_org_wide = failed.entry(d).or_insert(true);
                *only_org_wide &= org_wide;
            }
            incidents_by_service
                .entry(inc.service.as_deref())
                .or_default()
                .push(PreparedIncident {
                    idx,
                    caused,
                    attributed,
                });
        }

        Prepared {
            events,
            config,
            prod,
            prod_by_service,
            first_carrier,
            incidents_by_service,
            failed,
            unplanned,
        }
    }

    /// Successful production deployments in `window` within `filter`, in order.
    fn deployments_in(&self, filter: &ScopeFilter, window: Window) -> Vec<usize> {
        let deployments = &self.events.deployments;
        let slice = |list: &[usize]| -> Vec<usize> {
            let lo = list.partition_point(|&i| deployments[i].deployed_at <= window.start());
            let hi = list.partition_point(|&i| deployments[i].deployed_at <= window.end);
            list[lo..hi].to_vec()
        };
        match filter {
            ScopeFilter::Organisation => slice(&self.prod),
            ScopeFilter::Services(set) => set
                .iter()
                .filter_map(|s| self.prod_by_service.get(s.as_str()))
                .flat_map(|list| slice(list))
                .collect(),
        }
    }

    fn incidents_in<'s>(
        &'s self,
        filter: &'s ScopeFilter,
    ) -> Box<dyn Iterator<Item = &'s PreparedIncident> + 's> {
        match filter {
            ScopeFilter::Organisation => Box::new(self.incidents_by_service.values().flatten()),
            ScopeFilter::Services(set) => Box::new(
                set.iter()
                    .filter_map(|s| self.incidents_by_service.get(&Some(s.as_str())))
                    .flatten(),
            ),
        }
    }

    pub fn metrics(&self, teams: &TeamMap, scope: &Scope, window: Window) -> Metrics {
        let filter = ScopeFilter::resolve(scope, teams);
        let deployments = &self.events.deployments;
        let bands = &self.config.bands;
        let in_window = self.deployments_in(&filter, window);

        // Deployment frequency.
        let n = in_window.len();
        let per_day = n as f64 / f64::from(window.days);
        let deployment_frequency = DeploymentFrequency {
            deployments: n,
            per_day,
            band: bands.deployment_frequency(per_day),
            low_confidence: n < LOW_CONFIDENCE_BELOW_SAMPLES,
        };

        // Lead time: each change once per service, in its first production deployment.
        let mut lead_times = Vec::new();
        let mut clamped = 0;
        for &i in &in_window {
            let d = &deployments[i];
            let mut counted_here = HashSet::new();
            for c in &d.changes {
                let first = self.first_carrier.get(&(d.service.as_str(), c.id.as_str()));
                if first != Some(&i) || !counted_here.insert(c.id.as_str()) {
                    continue;
                }
                // The same change listed twice in one deployment counts once, from its
                // earliest start.
                let started = d
                    .changes
                    .iter()
                    .filter(|o| o.id == c.id)
                    .map(|o| o.started_at)
                    .min()
                    .unwrap_or(c.started_at);
                if started > d.deployed_at {
                    clamped += 1;
                    lead_times.push(0.0);
                } else {
                    lead_times.push(d.deployed_at.seconds_since(started));
                }
            }
            if let Some(s) = d.lead_time_seconds {
                // A negative precomputed lead time is a change that started after its
                // deployment: it counts as 0 and is reported like any other.
                if s < 0.0 {
                    clamped += 1;
                }
                lead_times.push(s.max(0.0));
            }
        }
        lead_times.sort_by(f64::total_cmp);
        let lt_p50 = quantile_sorted(&lead_times, 0.5);
        let lead_time = LeadTime {
            changes: lead_times.len(),
            p50_seconds: lt_p50,
            p90_seconds: quantile_sorted(&lead_times, 0.9),
            band: lt_p50.map(|p| bands.lead_time(p)),
            low_confidence: lead_times.len() < LOW_CONFIDENCE_BELOW_SAMPLES,
            changes_started_after_deployment: clamped,
        };

        // Change failure rate.
        let failed: Vec<bool> = in_window
            .iter()
            .filter_map(|i| self.failed.get(i).copied())
            .collect();
        let percent = (n > 0).then(|| failed.len() as f64 / n as f64 * 100.0);
        let change_failure_rate = ChangeFailureRate {
            deployments: n,
            failed_deployments: failed.len(),
            percent,
            band: percent.map(|p| bands.change_failure_rate(p)),
            low_confidence: n < LOW_CONFIDENCE_BELOW_SAMPLES,
            attributed_organisation_wide: failed.iter().filter(|&&org| org).count(),
        };

        // Time to restore, failed deployment recovery time, untriaged incidents.
        let mut restore = Vec::new();
        let mut recovery = Vec::new();
        let mut untriaged = 0;
        for p in self.incidents_in(&filter) {
            let inc = &self.events.incidents[p.idx];
            if inc.caused_by_deploy.is_none() && window.contains(inc.opened_at) {
                untriaged += 1;
            }
            let Some(resolved) = inc.resolved_at else {
                continue;
            };
            if !window.contains(resolved) {
                continue;
            }
            let seconds = resolved.seconds_since(inc.opened_at).max(0.0);
            restore.push(seconds);
            if p.caused {
                recovery.push(seconds);
            }
        }
        let mttr = self.restore(restore, true);
        let failed_deployment_recovery_time = self.restore(recovery, false);

        // Rework rate.
        let mut by_reason = ReworkReasons::default();
        let mut unplanned = 0;
        for u in in_window.iter().filter_map(|i| self.unplanned.get(i)) {
            unplanned += 1;
            by_reason.sender += usize::from(u.sender);
            by_reason.rule += usize::from(u.rule);
            by_reason.redeployed_sha += usize::from(u.redeployed_sha);
        }
        let rework_rate = ReworkRate {
            deployments: n,
            unplanned_deployments: unplanned,
            percent: (n > 0).then(|| unplanned as f64 / n as f64 * 100.0),
            by_reason,
        };

        let overall_band = [
            Some(deployment_frequency.band),
            lead_time.band,
            change_failure_rate.band,
            mttr.band,
        ]
        .into_iter()
        .try_fold(Band::Elite, |worst, b| b.map(|b| worst.max(b)));

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

    /// The incidents that count as caused by a deployment (under the policy) and are
    /// attributed to a successful production deployment of `scope` deployed in `window`:
    /// the incidents that made those deployments failed.
    pub fn caused_incidents(
        &self,
        teams: &TeamMap,
        scope: &Scope,
        window: Window,
    ) -> Vec<&'a Incident> {
        let filter = ScopeFilter::resolve(scope, teams);
        let failed: HashSet<usize> = self.deployments_in(&filter, window).into_iter().collect();
        self.incidents_by_service
            .values()
            .flatten()
            .filter(|p| p.caused && p.attributed.is_some_and(|d| failed.contains(&d)))
            .map(|p| &self.events.incidents[p.idx])
            .collect()
    }

    fn restore(&self, mut seconds: Vec<f64>, banded: bool) -> Restore {
        seconds.sort_by(f64::total_cmp);
        let p50 = quantile_sorted(&seconds, 0.5);
        let missing_reason = match (p50, self.events.incident_feed_seen) {
            (Some(_), _) => None,
            (None, false) => Some(MTTR_NO_FEED),
            (None, true) => Some(MTTR_NONE_RESOLVED),
        };
        Restore {
            incidents: seconds.len(),
            p50_seconds: p50,
            p90_seconds: quantile_sorted(&seconds, 0.9),
            band: if banded {
                p50.map(|p| self.config.bands.mttr(p))
            } else {
                None
            },
            low_confidence: seconds.len() < LOW_CONFIDENCE_BELOW_SAMPLES,
            missing_reason,
        }
    }
}

/// The unplanned deployments among the successful production ones, with their reasons.
///
/// A redeployed sha is a rollback when the deployment's sha equals the sha of an earlier
/// successful production deployment of the same service, and the deployment right before
/// it (in `(deployed_at, id)` order) ran a different, known sha. Deploying the sha that
/// already runs is a retry, not a rollback; with no sha on either side nothing is known.
fn unplanned(
    deployments: &[Deployment],
    prod_by_service: &HashMap<&str, Vec<usize>>,
    config: &MetricsConfig,
) -> HashMap<usize, Unplanned> {
    let mut out = HashMap::new();
    for list in prod_by_service.values() {
        let mut ran: HashSet<&str> = HashSet::new();
        let mut previous: Option<&str> = None;
        for &i in list {
            let d = &deployments[i];
            let sha = d.sha.as_deref();
            let why = Unplanned {
                sender: d.hotfix || d.rollback,
                rule: config.rework.matches(d.branch.as_deref(), &d.labels),
                redeployed_sha: sha
                    .is_some_and(|s| previous.is_some_and(|p| p != s) && ran.contains(s)),
            };
            if why.any() {
                out.insert(i, why);
            }
            ran.extend(sha);
            previous = sha;
        }
    }
    out
}

/// Triage candidates for `incident` among `deployments`: successful production deployments
/// of its service (any service when it names none) deployed within one hour before it
/// opened, newest first. The store answers the same question in SQL
/// (`Store::deployments_between`); this is the definition the tests hold it to.
pub fn candidate_deployments<'d>(
    deployments: &'d [Deployment],
    config: &MetricsConfig,
    incident: &Incident,
) -> Vec<&'d Deployment> {
    let from = incident.opened_at.minus_seconds(ATTRIBUTION_WINDOW_SECONDS);
    let mut found: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| {
            d.status == DeployStatus::Success
                && config.production.contains(&d.environment)
                && incident.service.as_deref().is_none_or(|s| s == d.service)
                && from <= d.deployed_at
                && d.deployed_at <= incident.opened_at
        })
        .collect();
    found.sort_by(|a, b| order_key(b).cmp(&order_key(a)));
    found.dedup_by(|a, b| a.id == b.id);
    found
}

/// Every service named by any event, sorted.
pub fn services(events: &EventSet) -> Vec<String> {
    let mut set: BTreeMap<&str, ()> = BTreeMap::new();
    for d in &events.deployments {
        set.insert(&d.service, ());
    }
    for i in &events.incidents {
        if let Some(s) = &i.service {
            set.insert(s, ());
        }
    }
    set.into_keys().map(String::from).collect()
}
