//! The backend under test, and builders for events.

pub use crate::common::backends::Backend;
use pacer::store::{SharedStore, Store};
use pacer_core::{Change, DeployStatus, Deployment, IncidentUpdate, Timestamp};
use std::ops::Deref;

pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;
/// Day 1000 at midnight UTC (Unix seconds): the epoch of most test histories.
pub const T0: i64 = 1_000 * DAY;

/// A store that lives as long as the test: dropping it drops the database.
pub struct TestStore {
    store: SharedStore,
    // Declared after `store`, so dropped after it: the file outlives its connections.
    _dir: tempfile::TempDir,
}

impl Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A new, empty store for one test (or one property-test case), created and migrated by
/// `pacer::store::open` as the server does it: a fresh SQLite file in its own temporary
/// directory and a fresh PostgreSQL database, mirrored (see `common::backends`:
/// `PACER_TEST_BACKENDS` picks the backends). This is the only place the suite chooses a
/// backend, so every store test runs against both.
pub async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::common::backends::fresh_store(dir.path()).await;
    TestStore { store, _dir: dir }
}

/// A new, empty store of each wanted backend on its own, for tests whose concurrency a
/// mirror would serialize.
pub async fn each_backend() -> Vec<(Backend, TestStore)> {
    let mut out = Vec::new();
    for backend in crate::common::backends::wanted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::common::backends::fresh_url(backend, dir.path()).await;
        let store = pacer::store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open a fresh {backend:?} store: {e}"));
        out.push((backend, TestStore { store, _dir: dir }));
    }
    out
}

/// A single-threaded runtime for the body of a property test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Unix seconds as a timestamp.
pub fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_seconds(seconds)
}

/// `T0 + hours`.
pub fn at(hours: i64) -> Timestamp {
    ts(T0 + hours * HOUR)
}

/// Production environment keys as the app passes them (lower-case).
pub fn prod_keys() -> Vec<String> {
    pacer_core::ProductionEnvironments::default()
        .names()
        .to_vec()
}

/// A successful deployment to `production`, carrying nothing.
pub fn deploy(id: &str, service: &str, deployed_at: Timestamp) -> Deployment {
    Deployment {
        id: id.to_string(),
        service: service.to_string(),
        environment: "production".to_string(),
        status: DeployStatus::Success,
        deployed_at,
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
    fn change(self, id: &str, started_at: Timestamp) -> Self;
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
    fn change(mut self, id: &str, started_at: Timestamp) -> Self {
        self.changes.push(Change {
            id: id.to_string(),
            started_at,
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
pub fn incident(id: &str, service: Option<&str>, opened_at: Timestamp) -> IncidentUpdate {
    IncidentUpdate {
        id: id.to_string(),
        service: Some(service.map(String::from)),
        opened_at: Some(opened_at),
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
    fn resolved(self, at: Timestamp) -> Self;
    fn reopened(self) -> Self;
    fn caused(self, caused: Option<bool>) -> Self;
    fn names(self, deployment_id: &str) -> Self;
    fn env(self, environment: &str) -> Self;
    fn severity(self, severity: Option<&str>) -> Self;
}

impl IncidentExt for IncidentUpdate {
    fn resolved(mut self, at: Timestamp) -> Self {
        self.resolved_at = Some(Some(at));
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
    fn severity(mut self, severity: Option<&str>) -> Self {
        self.severity = Some(severity.map(String::from));
        self
    }
}
