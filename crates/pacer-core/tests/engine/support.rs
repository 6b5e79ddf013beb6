//! Builders shared by the example tests and the property tests.

use pacer_core::engine::{Metrics, compute};
use pacer_core::{
    Change, DeployStatus, Deployment, EventSet, IncidentUpdate, MetricsConfig, Scope, TeamMap,
    Timestamp, Window,
};
use std::collections::BTreeMap;

pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;
/// The end of the window most tests use: day 1000 at midnight UTC (Unix seconds).
pub const END: i64 = 1_000 * DAY;

/// Anything that names an instant: `i64` is Unix seconds, a [`Timestamp`] is itself.
pub trait When {
    fn ts(self) -> Timestamp;
}

impl When for i64 {
    fn ts(self) -> Timestamp {
        Timestamp::from_seconds(self)
    }
}

impl When for Timestamp {
    fn ts(self) -> Timestamp {
        self
    }
}

/// A successful deployment to `production`, carrying nothing.
pub fn deploy(id: &str, service: &str, deployed_at: impl When) -> Deployment {
    Deployment {
        id: id.to_string(),
        service: service.to_string(),
        environment: "production".to_string(),
        status: DeployStatus::Success,
        deployed_at: deployed_at.ts(),
        sha: None,
        repo: None,
        team: None,
        changes: Vec::new(),
        lead_time_seconds: None,
        ..Deployment::default()
    }
}

pub trait DeploymentExt {
    fn env(self, environment: &str) -> Self;
    fn failed(self) -> Self;
    fn change(self, id: &str, started_at: impl When) -> Self;
    fn lead(self, seconds: f64) -> Self;
    fn team(self, team: &str) -> Self;
}

impl DeploymentExt for Deployment {
    fn env(mut self, environment: &str) -> Self {
        self.environment = environment.to_string();
        self
    }
    fn failed(mut self) -> Self {
        self.status = DeployStatus::Failure;
        self
    }
    fn change(mut self, id: &str, started_at: impl When) -> Self {
        self.changes.push(Change {
            id: id.to_string(),
            started_at: started_at.ts(),
        });
        self
    }
    fn lead(mut self, seconds: f64) -> Self {
        self.lead_time_seconds = Some(seconds);
        self
    }
    fn team(mut self, team: &str) -> Self {
        self.team = Some(team.to_string());
        self
    }
}

/// A first delivery of a production incident: id, service and opening only.
pub fn incident(id: &str, service: Option<&str>, opened_at: impl When) -> IncidentUpdate {
    IncidentUpdate {
        id: id.to_string(),
        service: Some(service.map(String::from)),
        opened_at: Some(opened_at.ts()),
        ..IncidentUpdate::default()
    }
}

/// A later delivery that carries only the id (add fields with [`IncidentExt`]).
pub fn update(id: &str) -> IncidentUpdate {
    IncidentUpdate {
        id: id.to_string(),
        ..IncidentUpdate::default()
    }
}

pub trait IncidentExt {
    fn resolved(self, at: impl When) -> Self;
    fn reopened(self) -> Self;
    fn caused(self, caused: Option<bool>) -> Self;
    fn names(self, deployment_id: &str) -> Self;
    fn env(self, environment: &str) -> Self;
}

impl IncidentExt for IncidentUpdate {
    fn resolved(mut self, at: impl When) -> Self {
        self.resolved_at = Some(Some(at.ts()));
        self
    }
    fn reopened(mut self) -> Self {
        self.resolved_at = Some(None);
        self
    }
    fn caused(mut self, caused: Option<bool>) -> Self {
        self.caused_by_deploy = Some(caused);
        self
    }
    fn names(mut self, deployment_id: &str) -> Self {
        self.deployment_id = Some(Some(deployment_id.to_string()));
        self
    }
    fn env(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_string());
        self
    }
}

/// A history recorded with the store's delivery semantics, plus what it is computed with.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub events: EventSet,
    pub config: MetricsConfig,
    pub configured_teams: BTreeMap<String, String>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    pub fn with_config(config: MetricsConfig) -> Self {
        History {
            config,
            ..History::default()
        }
    }

    pub fn map_team(&mut self, service: &str, team: &str) -> &mut Self {
        self.configured_teams
            .insert(service.to_string(), team.to_string());
        self
    }

    pub fn deploy(&mut self, deployment: Deployment) -> &mut Self {
        assert!(
            self.events.record_deployment(deployment),
            "duplicate deployment id in a test history"
        );
        self
    }

    pub fn incident(&mut self, update: IncidentUpdate) -> &mut Self {
        self.events
            .record_incident(update)
            .expect("a valid incident delivery");
        self
    }

    pub fn teams(&self) -> TeamMap {
        TeamMap::from_deployments(self.configured_teams.clone(), &self.events.deployments)
    }

    pub fn metrics(&self, scope: Scope, end: impl When, days: u32) -> Metrics {
        compute(
            &self.events,
            &self.config,
            &self.teams(),
            &scope,
            Window::new(end.ts(), days),
        )
    }

    /// Organisation scope, 30 days ending at [`END`].
    pub fn org(&self) -> Metrics {
        self.metrics(Scope::organisation(), END, 30)
    }

    /// One service, 30 days ending at [`END`].
    pub fn service(&self, service: &str) -> Metrics {
        self.metrics(Scope::service(service), END, 30)
    }

    /// One team, 30 days ending at [`END`].
    pub fn team(&self, team: &str) -> Metrics {
        self.metrics(Scope::team(team), END, 30)
    }
}

/// Asserts that `actual` is `Some` and within 1e-9 (relative) of `expected`.
#[track_caller]
pub fn assert_close(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (a - expected).abs() <= tolerance,
        "expected {expected}, got {a}"
    );
}
