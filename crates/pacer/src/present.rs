//! What users read: the JSON shapes of API v1 (shared by the server and `pacer report`).

use crate::store::TriageEntry;
use crate::timefmt::format as ts;
use pacer_core::engine::{Metrics, ORG_WIDE_HINT, Restore};
use pacer_core::{Band, ChaosAdvisory, Deployment, Incident, MetricsConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Scope)]
pub struct ScopeJson {
    #[schema(required = true)]
    pub service: Option<String>,
    #[schema(required = true)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Window, description = "The window: events with `start < t <= end`.")]
pub struct WindowJson {
    /// Exclusive start: `end - days*86400s`.
    #[schema(format = DateTime)]
    pub start: String,
    /// Inclusive end.
    #[schema(format = DateTime)]
    pub end: String,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeploymentFrequency)]
pub struct DeploymentFrequencyJson {
    /// Successful production deployments in the window.
    pub deployments: usize,
    /// `deployments / days`.
    pub per_day: f64,
    #[schema(value_type = Option<crate::api::openapi::Band>, required = true)]
    pub band: Option<Band>,
    /// The band is drawn from fewer than 5 samples.
    pub low_confidence: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = LeadTime)]
pub struct LeadTimeJson {
    /// Changes whose deployment is in the window.
    pub changes: usize,
    /// Median; `null` with no samples.
    #[schema(required = true)]
    pub p50_seconds: Option<f64>,
    /// 90th percentile (linear interpolation); `null` with no samples.
    #[schema(required = true)]
    pub p90_seconds: Option<f64>,
    #[schema(value_type = Option<crate::api::openapi::Band>, required = true)]
    pub band: Option<Band>,
    /// The band is drawn from fewer than 5 samples.
    pub low_confidence: bool,
    /// Changes that started after their deployment (clock skew); they count as 0 seconds.
    pub changes_started_after_deployment: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Present when some changes started after their deployment.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChangeFailureRate)]
pub struct ChangeFailureRateJson {
    /// Successful production deployments in the window.
    pub deployments: usize,
    /// Of those, the ones that at least one incident counting as caused by a deployment is
    /// attributed to.
    pub failed_deployments: usize,
    /// `failed_deployments / deployments` in percent; `null` with no deployments.
    #[schema(required = true)]
    pub percent: Option<f64>,
    #[schema(value_type = Option<crate::api::openapi::Band>, required = true)]
    pub band: Option<Band>,
    /// The band is drawn from fewer than 5 samples.
    pub low_confidence: bool,
    /// Incidents with no service, attributed to the latest production deployment of any service
    /// by time (organisation-wide).
    pub attributed_organisation_wide: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Present when some attribution is organisation-wide: send the incident's service.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Mttr, description = "Time to restore: resolved-at minus opened-at of production incidents resolved in the window.")]
pub struct MttrJson {
    pub incidents: usize,
    /// Median; `null` with no samples.
    #[schema(required = true)]
    pub p50_seconds: Option<f64>,
    /// 90th percentile (linear interpolation); `null` with no samples.
    #[schema(required = true)]
    pub p90_seconds: Option<f64>,
    #[schema(value_type = Option<crate::api::openapi::Band>, required = true)]
    pub band: Option<Band>,
    /// The band is drawn from fewer than 5 samples.
    pub low_confidence: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Why there is no figure (e.g. no incident data); MTTR is never estimated from deployments.
    pub missing_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = FailedDeploymentRecoveryTime, description = "Time to restore over only the incidents counting as caused by a deployment.")]
pub struct RecoveryJson {
    pub incidents: usize,
    /// Median; `null` with no samples.
    #[schema(required = true)]
    pub p50_seconds: Option<f64>,
    /// 90th percentile (linear interpolation); `null` with no samples.
    #[schema(required = true)]
    pub p90_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReworkReasons, description = "Unplanned deployments per reason; a deployment with several reasons counts under each.")]
pub struct ReworkReasonsJson {
    /// Marked `hotfix` or `rollback` by the sender.
    pub sender: usize,
    /// Matched a `metrics.rework` branch or label rule.
    pub rule: usize,
    /// Redeployed a sha the service ran before, replacing a different one (a rollback).
    pub redeployed_sha: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReworkRate, description = "Rework rate (DORA 2024): unplanned successful production deployments in the window. No band: the report gives none.")]
pub struct ReworkRateJson {
    /// Successful production deployments in the window.
    pub deployments: usize,
    /// Of those, the unplanned ones (hotfixes, rollbacks, rule matches, redeployed shas).
    pub unplanned_deployments: usize,
    /// `unplanned_deployments / deployments` in percent; `null` with no deployments.
    #[schema(required = true)]
    pub percent: Option<f64>,
    pub by_reason: ReworkReasonsJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Metrics)]
pub struct MetricsJson {
    pub scope: ScopeJson,
    pub window: WindowJson,
    pub deployment_frequency: DeploymentFrequencyJson,
    pub lead_time: LeadTimeJson,
    pub change_failure_rate: ChangeFailureRateJson,
    pub mttr: MttrJson,
    pub failed_deployment_recovery_time: RecoveryJson,
    /// Production incidents opened in the window whose `caused_by_deploy` is unset.
    pub untriaged_incidents: usize,
    /// The worst of the four bands; `null` when any is `null`.
    #[schema(value_type = Option<crate::api::openapi::Band>, required = true)]
    pub overall_band: Option<Band>,
    #[schema(value_type = crate::api::openapi::AttributionPolicy)]
    pub attribution_policy: String,
    pub rework_rate: ReworkRateJson,
    /// Present when the change failure rate stayed above `metrics.chaos.threshold_percent`
    /// for each of the last `metrics.chaos.consecutive_weeks` weeks; `null` otherwise.
    /// (`default`: a report from a server that predates it reads as `null`.)
    #[serde(default)]
    #[schema(required = true)]
    pub chaos_advisory: Option<ChaosAdvisoryJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChaosAdvisory, description = "The change failure rate stayed above the threshold for `weeks` consecutive weeks: run chaos experiments chosen by the fault classes of the deploy-caused incidents (docs/triage.md).")]
pub struct ChaosAdvisoryJson {
    /// Consecutive 7-day weeks ending at the window's end (`metrics.chaos.consecutive_weeks`).
    pub weeks: u32,
    /// Each week's change failure rate was strictly above this (`metrics.chaos.threshold_percent`).
    pub threshold_percent: f64,
    /// The change failure rate of each week in percent, oldest first.
    pub weekly_percent: Vec<f64>,
    /// The deploy-caused incidents of those weeks by fault class, most incidents first.
    pub fault_classes: Vec<FaultClassAdviceJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = FaultClassAdvice)]
pub struct FaultClassAdviceJson {
    /// A fault class of the vocabulary, or `unclassified`.
    pub class: String,
    pub incidents: usize,
    /// Up to 3 incident ids, newest first.
    pub examples: Vec<String>,
    /// The suggested GameDay experiment.
    pub experiment: String,
}

pub fn chaos_advisory_json(a: &ChaosAdvisory) -> ChaosAdvisoryJson {
    ChaosAdvisoryJson {
        weeks: a.weeks,
        threshold_percent: a.threshold_percent,
        weekly_percent: a.weekly_percent.clone(),
        fault_classes: a
            .fault_classes
            .iter()
            .map(|c| FaultClassAdviceJson {
                class: c.class_name().to_string(),
                incidents: c.incidents,
                examples: c.examples.clone(),
                experiment: c.experiment.to_string(),
            })
            .collect(),
    }
}

fn mttr_json(r: &Restore) -> MttrJson {
    MttrJson {
        incidents: r.incidents,
        p50_seconds: r.p50_seconds,
        p90_seconds: r.p90_seconds,
        band: r.band,
        low_confidence: r.low_confidence,
        missing_reason: r.missing_reason.map(String::from),
    }
}

fn window_json(w: pacer_core::Window) -> WindowJson {
    WindowJson {
        start: ts(w.start()),
        end: ts(w.end),
        days: w.days,
    }
}

pub fn metrics_json(m: &Metrics, config: &MetricsConfig) -> MetricsJson {
    let lt = &m.lead_time;
    let cfr = &m.change_failure_rate;
    MetricsJson {
        scope: ScopeJson { service: m.scope.service.clone(), team: m.scope.team.clone() },
        window: window_json(m.window),
        deployment_frequency: DeploymentFrequencyJson {
            deployments: m.deployment_frequency.deployments,
            per_day: m.deployment_frequency.per_day,
            band: Some(m.deployment_frequency.band),
            low_confidence: m.deployment_frequency.low_confidence,
        },
        lead_time: LeadTimeJson {
            changes: lt.changes,
            p50_seconds: lt.p50_seconds,
            p90_seconds: lt.p90_seconds,
            band: lt.band,
            low_confidence: lt.low_confidence,
            changes_started_after_deployment: lt.changes_started_after_deployment,
            note: (lt.changes_started_after_deployment > 0).then(|| {
                format!(
                    "{} change(s) started after their deployment (clock skew) and count as 0 seconds",
                    lt.changes_started_after_deployment
                )
            }),
        },
        change_failure_rate: ChangeFailureRateJson {
            deployments: cfr.deployments,
            failed_deployments: cfr.failed_deployments,
            percent: cfr.percent,
            band: cfr.band,
            low_confidence: cfr.low_confidence,
            attributed_organisation_wide: cfr.attributed_organisation_wide,
            hint: (cfr.attributed_organisation_wide > 0).then(|| ORG_WIDE_HINT.to_string()),
        },
        mttr: mttr_json(&m.mttr),
        failed_deployment_recovery_time: RecoveryJson {
            incidents: m.failed_deployment_recovery_time.incidents,
            p50_seconds: m.failed_deployment_recovery_time.p50_seconds,
            p90_seconds: m.failed_deployment_recovery_time.p90_seconds,
        },
        untriaged_incidents: m.untriaged_incidents,
        overall_band: m.overall_band,
        attribution_policy: config.attribution.as_str().to_string(),
        rework_rate: ReworkRateJson {
            deployments: m.rework_rate.deployments,
            unplanned_deployments: m.rework_rate.unplanned_deployments,
            percent: m.rework_rate.percent,
            by_reason: ReworkReasonsJson {
                sender: m.rework_rate.by_reason.sender,
                rule: m.rework_rate.by_reason.rule,
                redeployed_sha: m.rework_rate.by_reason.redeployed_sha,
            },
        },
        chaos_advisory: m.chaos_advisory.as_ref().map(chaos_advisory_json),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Change)]
pub struct ChangeJson {
    pub id: String,
    #[schema(format = DateTime)]
    pub started_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Deployment)]
pub struct DeploymentJson {
    pub id: String,
    pub service: String,
    pub environment: String,
    #[schema(value_type = crate::api::openapi::DeployStatus)]
    pub status: String,
    #[schema(format = DateTime)]
    pub deployed_at: String,
    #[schema(required = true)]
    pub sha: Option<String>,
    #[schema(required = true)]
    pub repo: Option<String>,
    #[schema(required = true)]
    pub team: Option<String>,
    pub changes: Vec<ChangeJson>,
    #[schema(required = true)]
    pub lead_time_seconds: Option<f64>,
    /// Marked as a hotfix by the sender (rework).
    pub hotfix: bool,
    /// Marked as a rollback by the sender (rework).
    pub rollback: bool,
    /// The branch it was built from.
    #[schema(required = true)]
    pub branch: Option<String>,
    /// Labels of the change it ships.
    pub labels: Vec<String>,
    /// Whether it is a successful production deployment (the only kind that counts).
    pub counts: bool,
}

pub fn deployment_json(d: &Deployment, config: &MetricsConfig) -> DeploymentJson {
    DeploymentJson {
        id: d.id.clone(),
        service: d.service.clone(),
        environment: d.environment.clone(),
        status: d.status.as_str().to_string(),
        deployed_at: ts(d.deployed_at),
        sha: d.sha.clone(),
        repo: d.repo.clone(),
        team: d.team.clone(),
        changes: d
            .changes
            .iter()
            .map(|c| ChangeJson {
                id: c.id.clone(),
                started_at: ts(c.started_at),
            })
            .collect(),
        lead_time_seconds: d.lead_time_seconds,
        hotfix: d.hotfix,
        rollback: d.rollback,
        branch: d.branch.clone(),
        labels: d.labels.clone(),
        counts: d.status == pacer_core::DeployStatus::Success
            && config.production.contains(&d.environment),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Incident)]
pub struct IncidentJson {
    pub id: String,
    #[schema(required = true)]
    pub service: Option<String>,
    pub environment: String,
    #[schema(format = DateTime)]
    pub opened_at: String,
    /// `null` while open.
    #[schema(required = true, format = DateTime)]
    pub resolved_at: Option<String>,
    #[schema(required = true)]
    pub severity: Option<String>,
    /// Triage; `null`: untriaged.
    #[schema(required = true)]
    pub caused_by_deploy: Option<bool>,
    #[schema(required = true)]
    pub deployment_id: Option<String>,
    /// Triage: the fault class (docs/triage.md); `null`: not classified.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::openapi::FaultClass>, required = true)]
    pub fault_class: Option<String>,
    /// Triage: free text.
    #[serde(default)]
    #[schema(required = true)]
    pub note: Option<String>,
    /// The API token name of whoever last triaged it by hand (`anonymous` with no tokens
    /// configured); `null`: never triaged by hand. Set, it means incident tools' later
    /// updates leave the triage fields alone.
    #[serde(default)]
    #[schema(required = true)]
    pub triaged_by: Option<String>,
    /// When it was last triaged by hand.
    #[serde(default)]
    #[schema(required = true, format = DateTime)]
    pub triaged_at: Option<String>,
    /// `resolved_at - opened_at`; `null` while open.
    #[schema(required = true)]
    pub duration_seconds: Option<f64>,
    /// Whether it is a production incident (the only kind that counts).
    pub production: bool,
    /// In lists, for an untriaged incident: the ids of the successful production deployments
    /// of its service (any service when it names none) within one hour before it opened,
    /// newest first, so on-call can triage it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_deployment_ids: Option<Vec<String>>,
}

pub fn incident_json(i: &Incident, config: &MetricsConfig) -> IncidentJson {
    IncidentJson {
        id: i.id.clone(),
        service: i.service.clone(),
        environment: i.environment.clone(),
        opened_at: ts(i.opened_at),
        resolved_at: i.resolved_at.map(ts),
        severity: i.severity.clone(),
        caused_by_deploy: i.caused_by_deploy,
        deployment_id: i.deployment_id.clone(),
        fault_class: i.fault_class.map(|c| c.as_str().to_string()),
        note: i.note.clone(),
        triaged_by: i.triaged_by.clone(),
        triaged_at: i.triaged_at.map(ts),
        duration_seconds: i.resolved_at.map(|r| r.seconds_since(i.opened_at)),
        production: config.production.contains(&i.environment),
        candidate_deployment_ids: None,
    }
}

/// `GET /api/v1/report` and `pacer report --format json`: every scope for one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Report)]
pub struct ReportJson {
    pub window: WindowJson,
    pub organisation: MetricsJson,
    pub teams: Vec<MetricsJson>,
    pub services: Vec<MetricsJson>,
}

/// The report as JSON (the shape of [`ReportJson`]), in chunks of whole entries of about
/// [`REPORT_CHUNK_BYTES`] each: the server sends a 10,000-service report (10.6 MB) without
/// ever holding the whole body, which with the report itself and its growing buffer was
/// tens of MB of the server's memory peak (docs/benchmarks.md).
pub struct ReportJsonChunks {
    report: crate::app::Report,
    config: std::sync::Arc<MetricsConfig>,
    next: ReportPart,
    chunk_bytes: usize,
}

/// Bytes a chunk of [`ReportJsonChunks`] reaches before it is sent.
pub const REPORT_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy)]
enum ReportPart {
    Head,
    Team(usize),
    Service(usize),
    Done,
}

impl ReportJsonChunks {
    pub fn new(report: crate::app::Report, config: std::sync::Arc<MetricsConfig>) -> Self {
        ReportJsonChunks {
            report,
            config,
            next: ReportPart::Head,
            chunk_bytes: REPORT_CHUNK_BYTES,
        }
    }

    /// The same, in chunks of about `bytes` (at least one entry each).
    pub fn with_chunk_bytes(self, bytes: usize) -> Self {
        ReportJsonChunks {
            chunk_bytes: bytes,
            ..self
        }
    }

    /// Appends the next part to `out` and says which part follows it.
    fn write_part(&self, part: ReportPart, out: &mut Vec<u8>) -> serde_json::Result<ReportPart> {
        let (r, config) = (&self.report, &*self.config);
        Ok(match part {
            ReportPart::Head => {
                out.extend_from_slice(b"{\"window\":");
                serde_json::to_writer(&mut *out, &window_json(r.window))?;
                out.extend_from_slice(b",\"organisation\":");
                serde_json::to_writer(&mut *out, &metrics_json(&r.organisation, config))?;
                out.extend_from_slice(b",\"teams\":[");
                ReportPart::Team(0)
            }
            ReportPart::Team(i) if i < r.teams.len() => {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, &metrics_json(&r.teams[i], config))?;
                ReportPart::Team(i + 1)
            }
            ReportPart::Team(_) => {
                out.extend_from_slice(b"],\"services\":[");
                ReportPart::Service(0)
            }
            ReportPart::Service(i) if i < r.services.len() => {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, &metrics_json(&r.services[i], config))?;
                ReportPart::Service(i + 1)
            }
            ReportPart::Service(_) => {
                out.extend_from_slice(b"]}");
                ReportPart::Done
            }
            ReportPart::Done => ReportPart::Done,
        })
    }
}

impl Iterator for ReportJsonChunks {
    type Item = serde_json::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out = Vec::with_capacity(self.chunk_bytes + 4096);
        while !matches!(self.next, ReportPart::Done) && out.len() < self.chunk_bytes {
            match self.write_part(self.next, &mut out) {
                Ok(next) => self.next = next,
                Err(e) => {
                    self.next = ReportPart::Done;
                    return Some(Err(e));
                }
            }
        }
        (!out.is_empty()).then_some(Ok(out))
    }
}

pub fn report_json(r: &crate::app::Report, config: &MetricsConfig) -> ReportJson {
    ReportJson {
        window: window_json(r.window),
        organisation: metrics_json(&r.organisation, config),
        teams: r.teams.iter().map(|m| metrics_json(m, config)).collect(),
        services: r.services.iter().map(|m| metrics_json(m, config)).collect(),
    }
}

/// One entry of an incident's triage log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TriageEntry)]
pub struct TriageEntryJson {
    /// When the triage was made.
    #[schema(format = DateTime)]
    pub at: String,
    /// The API token's name, or `anonymous` when no tokens are configured.
    pub actor: String,
    /// Each field the triage changed, in the order caused_by_deploy, deployment_id,
    /// fault_class, note.
    pub changes: Vec<TriageChangeJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TriageChange)]
pub struct TriageChangeJson {
    /// `caused_by_deploy`, `deployment_id`, `fault_class` or `note`.
    pub field: String,
    /// The value before (`null`: unset): a boolean for `caused_by_deploy`, else a string.
    #[schema(value_type = Object, required = true)]
    pub old: serde_json::Value,
    /// The value after (`null`: unset).
    #[schema(value_type = Object, required = true)]
    pub new: serde_json::Value,
}

pub fn triage_entry_json(e: &TriageEntry) -> TriageEntryJson {
    let value = |field: &str, v: &Option<String>| match (field, v) {
        (_, None) => serde_json::Value::Null,
        ("caused_by_deploy", Some(b)) => serde_json::Value::Bool(b == "true"),
        (_, Some(s)) => serde_json::Value::String(s.clone()),
    };
    TriageEntryJson {
        at: ts(e.at),
        actor: e.actor.clone(),
        changes: e
            .changes
            .iter()
            .map(|c| TriageChangeJson {
                field: c.field.to_string(),
                old: value(c.field, &c.old),
                new: value(c.field, &c.new),
            })
            .collect(),
    }
}

#[cfg(test)]
mod report_chunk_tests {
    use super::*;
    use pacer_core::engine::{EventSet, compute};
    use pacer_core::{Scope, TeamMap, Timestamp, Window};

    /// Whatever the chunk size, the chunks join into exactly `serde_json::to_vec` of the
    /// report's [`ReportJson`]: every entry once, in order, commas and brackets in place.
    #[test]
    fn report_chunks_join_into_the_report_json() {
        let window = Window::new(Timestamp::from_seconds(30 * 86_400), 30);
        let config = MetricsConfig::default();
        let events = EventSet::default();
        let metrics = |scope: &Scope| compute(&events, &config, &TeamMap::default(), scope, window);
        let services = |n: usize| {
            (0..n)
                .map(|i| metrics(&Scope::service(format!("svc-{i}"))))
                .collect::<Vec<_>>()
        };
        let reports = [(0, 0), (2, 0), (0, 3), (2, 300)].map(|(teams, n)| crate::app::Report {
            window,
            organisation: metrics(&Scope::organisation()),
            teams: (0..teams)
                .map(|i| metrics(&Scope::team(format!("team-{i}"))))
                .collect(),
            services: services(n),
        });
        let config = std::sync::Arc::new(config);
        for report in reports {
            let expected = serde_json::to_vec(&report_json(&report, &config)).unwrap();
            for bytes in [1, 700, REPORT_CHUNK_BYTES] {
                let chunks: Vec<Vec<u8>> = ReportJsonChunks::new(report.clone(), config.clone())
                    .with_chunk_bytes(bytes)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(chunks.iter().all(|c| !c.is_empty()));
                assert_eq!(
                    String::from_utf8(chunks.concat()).unwrap(),
                    String::from_utf8(expected.clone()).unwrap(),
                    "{} services in chunks of {bytes} bytes",
                    report.services.len()
                );
                if bytes == 1 {
                    // One part per chunk: head, each entry, the teams' end, the close.
                    assert_eq!(chunks.len(), 3 + report.teams.len() + report.services.len());
                }
            }
        }
    }
}
