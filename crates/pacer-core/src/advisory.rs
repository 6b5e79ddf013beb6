//! The chaos advisory: when a scope's change failure rate has stayed above a threshold for
//! several consecutive weeks, suggest chaos experiments (GameDays) chosen by the fault
//! classes of the incidents that made those weeks fail. The handbook's rule: a change
//! failure rate above 10 % that persists is a signal to run chaos experiments.
//!
//! Pure computation over a [`Prepared`] event set: the caller loads at least
//! `7 × consecutive_weeks` days ending at `end` (see `docs/triage.md`).

use crate::engine::Prepared;
use crate::event::FaultClass;
use crate::scope::{Scope, TeamMap};
use crate::time::{SECONDS_PER_DAY, Timestamp, Window};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days in one advisory week.
pub const WEEK_DAYS: u32 = 7;
/// Most weeks a streak may ask for: a year, which bounds the events a metrics request loads.
pub const MAX_CHAOS_WEEKS: u32 = 52;
/// Most example incident ids shown per fault class.
pub const MAX_EXAMPLES: usize = 3;
/// The name of the class of deploy-caused incidents nobody classified yet.
pub const UNCLASSIFIED: &str = "unclassified";

/// `[metrics.chaos]`: when the advisory appears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosRules {
    /// Every one of the weeks must have a change failure rate strictly above this percent.
    pub threshold_percent: f64,
    /// How many consecutive calendar weeks (7-day windows ending at `end`, going back).
    pub consecutive_weeks: u32,
}

impl Default for ChaosRules {
    fn default() -> Self {
        ChaosRules {
            threshold_percent: 10.0,
            consecutive_weeks: 4,
        }
    }
}

impl ChaosRules {
    pub fn validate(&self) -> Result<(), String> {
        let t = self.threshold_percent;
        if !t.is_finite() || !(0.0..100.0).contains(&t) {
            return Err(format!(
                "metrics.chaos.threshold_percent = {t} must be at least 0 and below 100 (a change failure rate cannot exceed 100 %); the default is 10"
            ));
        }
        if !(1..=MAX_CHAOS_WEEKS).contains(&self.consecutive_weeks) {
            return Err(format!(
                "metrics.chaos.consecutive_weeks = {} must be between 1 and {MAX_CHAOS_WEEKS}; the default is 4",
                self.consecutive_weeks
            ));
        }
        Ok(())
    }

    /// Days of history the advisory looks at.
    pub fn span_days(&self) -> u32 {
        self.consecutive_weeks * WEEK_DAYS
    }
}

/// One fault class among the deploy-caused incidents of the streak.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultClassAdvice {
    /// `None`: the incidents have no fault class yet.
    pub class: Option<FaultClass>,
    pub incidents: usize,
    /// Up to [`MAX_EXAMPLES`] incident ids, newest first.
    pub examples: Vec<String>,
    pub experiment: &'static str,
}

impl FaultClassAdvice {
    pub fn class_name(&self) -> &'static str {
        self.class.map_or(UNCLASSIFIED, FaultClass::as_str)
    }
}

/// The advisory of one scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosAdvisory {
    pub weeks: u32,
    pub threshold_percent: f64,
    /// The change failure rate of each week, oldest first.
    pub weekly_percent: Vec<f64>,
    /// Most incidents first, then by class name.
    pub fault_classes: Vec<FaultClassAdvice>,
}

/// The suggested GameDay for a fault class (`None`: unclassified). The table is
/// documented in `docs/triage.md`; keep the two in step.
pub fn experiment(class: Option<FaultClass>) -> &'static str {
    match class {
        Some(FaultClass::BadConfiguration) => {
            "canary config rollout: ship a deliberately wrong configuration value to one canary and check that validation, alerts and automatic rollback stop it before it reaches every instance"
        }
        Some(FaultClass::CodeDefect) => {
            "canary release drill: deploy a build with a known failing endpoint to a canary and check that error-rate alerts halt the rollout and roll it back"
        }
        Some(FaultClass::DependencyFailure) => {
            "latency and fault injection on the dependency: add latency, errors and timeouts to calls to it (e.g. through a fault-injecting proxy) and check timeouts, retries, circuit breakers and fallbacks"
        }
        Some(FaultClass::Capacity) => {
            "load test: drive traffic to the expected peak plus headroom and check autoscaling, rate limits and saturation alerts"
        }
        Some(FaultClass::BadMigration) => {
            "rollback drill: apply the release's migration to a copy of production, roll the release back, and check the previous version still runs on the migrated schema"
        }
        Some(FaultClass::Infrastructure) => {
            "instance and zone failure: terminate instances or cut off one zone and check the service fails over and recovers within its objective"
        }
        Some(FaultClass::Other) => {
            "replay the failure: reproduce the trigger described in the incidents' notes in a controlled GameDay and check detection and recovery"
        }
        None => {
            "triage the fault class first: set fault_class on these incidents (PATCH /api/v1/incidents/{id}) so that an experiment can be chosen"
        }
    }
}

/// The advisory for `scope` at `end`, or `None` unless the change failure rate of each
/// of the last `consecutive_weeks` weeks (7-day windows ending at `end`, `end - 7 d`, ...)
/// is above the threshold. A week with no deployment has no rate and breaks the streak.
pub fn chaos_advisory(
    prepared: &Prepared<'_>,
    teams: &TeamMap,
    scope: &Scope,
    end: Timestamp,
    rules: &ChaosRules,
) -> Option<ChaosAdvisory> {
    let mut weekly = Vec::with_capacity(rules.consecutive_weeks as usize);
    // Newest week first, so that a scope that is fine this week costs one computation.
    for k in 0..rules.consecutive_weeks {
        let week_end = end.minus_seconds(i64::from(k * WEEK_DAYS) * SECONDS_PER_DAY);
        let m = prepared.metrics(teams, scope, Window::new(week_end, WEEK_DAYS));
        match m.change_failure_rate.percent {
            Some(p) if p > rules.threshold_percent => weekly.push(p),
            _ => return None,
        }
    }
    weekly.reverse();

    let span = Window::new(end, rules.span_days());
    let mut by_class: BTreeMap<Option<FaultClass>, Vec<&crate::Incident>> = BTreeMap::new();
    for incident in prepared.caused_incidents(teams, scope, span) {
        by_class
            .entry(incident.fault_class)
            .or_default()
            .push(incident);
    }
    let mut fault_classes: Vec<FaultClassAdvice> = by_class
        .into_iter()
        .map(|(class, mut incidents)| {
            incidents.sort_by(|a, b| (b.opened_at, &b.id).cmp(&(a.opened_at, &a.id)));
            FaultClassAdvice {
                class,
                incidents: incidents.len(),
                examples: incidents
                    .iter()
                    .take(MAX_EXAMPLES)
                    .map(|i| i.id.clone())
                    .collect(),
                experiment: experiment(class),
            }
        })
        .collect();
    fault_classes.sort_by(|a, b| {
        b.incidents
            .cmp(&a.incidents)
            .then_with(|| a.class_name().cmp(b.class_name()))
    });
    Some(ChaosAdvisory {
        weeks: rules.consecutive_weeks,
        threshold_percent: rules.threshold_percent,
        weekly_percent: weekly,
        fault_classes,
    })
}
