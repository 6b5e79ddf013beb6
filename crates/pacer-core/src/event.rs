//! Domain events. They are built by the edges (HTTP, CLI, storage) from validated input;
//! code in this crate never re-checks strings.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    #[default]
    Success,
    Failure,
}

impl DeployStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Success => "success",
            DeployStatus::Failure => "failure",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(DeployStatus::Success),
            "failure" => Some(DeployStatus::Failure),
            _ => None,
        }
    }
}

/// A unit of work that reaches production: a merged branch (started at its first commit)
/// or a commit pushed straight to the main branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub started_at: Timestamp,
}

/// One release of one service to one environment. `Default` exists so that edges which
/// know only some fields can build one with `..Deployment::default()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub service: String,
    pub environment: String,
    pub status: DeployStatus,
    pub deployed_at: Timestamp,
    pub sha: Option<String>,
    pub repo: Option<String>,
    pub team: Option<String>,
    pub changes: Vec<Change>,
    /// A precomputed lead time (the handbook's CI step sends only this): one change.
    pub lead_time_seconds: Option<f64>,
    /// The sender marks it as a hotfix: unplanned work (rework rate).
    pub hotfix: bool,
    /// The sender marks it as a rollback: unplanned work (rework rate).
    pub rollback: bool,
    /// The branch it was built from, for the `metrics.rework.unplanned_branches` rules.
    pub branch: Option<String>,
    /// Labels of the change it ships, for the `metrics.rework.unplanned_labels` rules.
    pub labels: Vec<String>,
}

/// A production event that breached an SLO or caused customer-visible impact
/// (degraded service included). `Default` lets edges fill only what they know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Incident {
    pub id: String,
    pub service: Option<String>,
    pub environment: String,
    pub opened_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub severity: Option<String>,
    /// Triage: `Some(true)` caused by a deployment, `Some(false)` not, `None` untriaged.
    pub caused_by_deploy: Option<bool>,
    pub deployment_id: Option<String>,
    /// Triage: what kind of fault it was (chooses the chaos advisory's experiment).
    pub fault_class: Option<FaultClass>,
    /// Triage: free text from whoever triaged it.
    pub note: Option<String>,
    /// Who last triaged it by hand (`PATCH /api/v1/incidents/{id}`), and when. Once set,
    /// an incident tool's later update never changes the triage fields.
    pub triaged_by: Option<String>,
    pub triaged_at: Option<Timestamp>,
}

impl Incident {
    /// Whether a person triaged it (as opposed to a tool, or nobody).
    pub fn human_triaged(&self) -> bool {
        self.triaged_by.is_some()
    }
}

/// The fixed vocabulary of fault classes. Fixed (not free text) so that counts group
/// cleanly and each class maps to one suggested experiment (`docs/triage.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    BadConfiguration,
    CodeDefect,
    DependencyFailure,
    Capacity,
    BadMigration,
    Infrastructure,
    Other,
}

impl FaultClass {
    pub const ALL: [FaultClass; 7] = [
        FaultClass::BadConfiguration,
        FaultClass::CodeDefect,
        FaultClass::DependencyFailure,
        FaultClass::Capacity,
        FaultClass::BadMigration,
        FaultClass::Infrastructure,
        FaultClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultClass::BadConfiguration => "bad_configuration",
            FaultClass::CodeDefect => "code_defect",
            FaultClass::DependencyFailure => "dependency_failure",
            FaultClass::Capacity => "capacity",
            FaultClass::BadMigration => "bad_migration",
            FaultClass::Infrastructure => "infrastructure",
            FaultClass::Other => "other",
        }
    }

    /// Exact names only: a near miss is refused with the list rather than guessed.
    pub fn parse(s: &str) -> Option<Self> {
        FaultClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The vocabulary as `a, b, c` for error messages.
    pub fn vocabulary() -> String {
        FaultClass::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A person's triage through the API: who (the API token's name) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageBy {
    pub actor: String,
    pub at: Timestamp,
}

/// One triage field that a human triage changed, with the values as JSON-like text
/// (`None`: unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageChange {
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The triage fields that differ between `old` and `new`, in a fixed order.
pub fn triage_changes(old: &Incident, new: &Incident) -> Vec<TriageChange> {
    let mut out = Vec::new();
    let mut diff = |field, a: Option<String>, b: Option<String>| {
        if a != b {
            out.push(TriageChange {
                field,
                old: a,
                new: b,
            });
        }
    };
    diff(
        "caused_by_deploy",
        old.caused_by_deploy.map(|b| b.to_string()),
        new.caused_by_deploy.map(|b| b.to_string()),
    );
    diff(
        "deployment_id",
        old.deployment_id.clone(),
        new.deployment_id.clone(),
    );
    diff(
        "fault_class",
        old.fault_class.map(|c| c.as_str().to_string()),
        new.fault_class.map(|c| c.as_str().to_string()),
    );
    diff("note", old.note.clone(), new.note.clone());
    out
}

/// Why an incident delivery cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error(
        "opened_at is required for a new incident: send when it was opened (RFC 3339 or Unix seconds)"
    )]
    MissingOpenedAt,
    #[error(
        "resolved_at ({resolved}) is before opened_at ({opened}): an incident cannot be resolved before it opens; fix resolved_at or opened_at"
    )]
    ResolvedBeforeOpened { opened: i64, resolved: i64 },
}

/// One delivery of an incident's state. For each field, `None` means "absent: keep what
/// is stored" and `Some(None)` means "explicitly cleared" (a `null` in JSON), so the newest
/// state of each field wins and an incident can be opened and resolved in two deliveries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentUpdate {
    pub id: String,
    pub service: Option<Option<String>>,
    pub environment: Option<String>,
    pub opened_at: Option<Timestamp>,
    pub resolved_at: Option<Option<Timestamp>>,
    pub severity: Option<Option<String>>,
    pub caused_by_deploy: Option<Option<bool>>,
    pub deployment_id: Option<Option<String>>,
    pub fault_class: Option<Option<FaultClass>>,
    pub note: Option<Option<String>>,
    /// `Some`: a person's triage (`PATCH`), which always applies and marks the incident as
    /// triaged by hand. `None`: a tool's delivery, whose triage fields are ignored once a
    /// person has triaged the incident.
    pub triage_by: Option<TriageBy>,
}

/// The environment of an incident that names none.
pub const DEFAULT_INCIDENT_ENVIRONMENT: &str = "production";

impl IncidentUpdate {
    /// Whether this delivery carries any triage field.
    pub fn carries_triage(&self) -> bool {
        self.caused_by_deploy.is_some()
            || self.deployment_id.is_some()
            || self.fault_class.is_some()
            || self.note.is_some()
    }

    /// Whether merging this delivery into `existing` ignores triage fields it carries:
    /// a tool's delivery never overwrites a person's triage decision.
    pub fn keeps_human_triage(&self, existing: Option<&Incident>) -> bool {
        self.triage_by.is_none()
            && self.carries_triage()
            && existing.is_some_and(Incident::human_triaged)
    }

    /// Merges this delivery into the stored incident (if any) and checks the result.
    pub fn apply(self, existing: Option<&Incident>) -> Result<Incident, IncidentError> {
        let merged = match existing {
            None => Incident {
                id: self.id,
                service: self.service.flatten(),
                environment: self
                    .environment
                    .unwrap_or_else(|| DEFAULT_INCIDENT_ENVIRONMENT.to_string()),
                opened_at: self.opened_at.ok_or(IncidentError::MissingOpenedAt)?,
                resolved_at: self.resolved_at.flatten(),
                severity: self.severity.flatten(),
                caused_by_deploy: self.caused_by_deploy.flatten(),
                deployment_id: self.deployment_id.flatten(),
                fault_class: self.fault_class.flatten(),
                note: self.note.flatten(),
                triaged_by: self.triage_by.as_ref().map(|t| t.actor.clone()),
                triaged_at: self.triage_by.as_ref().map(|t| t.at),
            },
            Some(old) if self.triage_by.is_none() && old.human_triaged() => Incident {
                id: old.id.clone(),
                service: self.service.unwrap_or_else(|| old.service.clone()),
                environment: self.environment.unwrap_or_else(|| old.environment.clone()),
                opened_at: self.opened_at.unwrap_or(old.opened_at),
                resolved_at: self.resolved_at.unwrap_or(old.resolved_at),
                severity: self.severity.unwrap_or_else(|| old.severity.clone()),
                // A person triaged it: the tool's triage fields are ignored.
                ..old.clone()
            },
            Some(old) => Incident {
                id: old.id.clone(),
                service: self.service.unwrap_or_else(|| old.service.clone()),
                environment: self.environment.unwrap_or_else(|| old.environment.clone()),
                opened_at: self.opened_at.unwrap_or(old.opened_at),
                resolved_at: self.resolved_at.unwrap_or(old.resolved_at),
                severity: self.severity.unwrap_or_else(|| old.severity.clone()),
                caused_by_deploy: self.caused_by_deploy.unwrap_or(old.caused_by_deploy),
                deployment_id: self
                    .deployment_id
                    .unwrap_or_else(|| old.deployment_id.clone()),
                fault_class: self.fault_class.unwrap_or(old.fault_class),
                note: self.note.unwrap_or_else(|| old.note.clone()),
                triaged_by: match &self.triage_by {
                    Some(t) => Some(t.actor.clone()),
                    None => old.triaged_by.clone(),
                },
                triaged_at: self.triage_by.as_ref().map(|t| t.at).or(old.triaged_at),
            },
        };
        let mut merged = merged;
        // A person's triage that changes nothing on an incident a person already triaged
        // is a re-delivery: it keeps who and when, so sending it again changes nothing.
        if self.triage_by.is_some()
            && let Some(old) = existing
            && old.human_triaged()
            && triage_changes(old, &merged).is_empty()
        {
            merged.triaged_by = old.triaged_by.clone();
            merged.triaged_at = old.triaged_at;
        }
        if let Some(resolved) = merged.resolved_at
            && resolved < merged.opened_at
        {
            return Err(IncidentError::ResolvedBeforeOpened {
                opened: merged.opened_at.millis(),
                resolved: resolved.millis(),
            });
        }
        Ok(merged)
    }
}

/// In-memory recording with the store's semantics: the reference the storage backends are
/// tested against, and what property tests deliver events through.
impl crate::engine::EventSet {
    /// Records a deployment; a re-delivered id keeps its first recording. Returns whether
    /// it was new.
    pub fn record_deployment(&mut self, deployment: Deployment) -> bool {
        if self.deployments.iter().any(|d| d.id == deployment.id) {
            return false;
        }
        self.deployments.push(deployment);
        true
    }

    /// Records one delivery of an incident (newest state of each field wins).
    pub fn record_incident(&mut self, update: IncidentUpdate) -> Result<&Incident, IncidentError> {
        let pos = self.incidents.iter().position(|i| i.id == update.id);
        let merged = update.apply(pos.map(|p| &self.incidents[p]))?;
        self.incident_feed_seen = true;
        let p = match pos {
            Some(p) => {
                self.incidents[p] = merged;
                p
            }
            None => {
                self.incidents.push(merged);
                self.incidents.len() - 1
            }
        };
        Ok(&self.incidents[p])
    }
}
