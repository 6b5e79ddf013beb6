//! Which storage backends a test runs on, and the store it gets.
//!
//! `PACER_TEST_BACKENDS` lists them (`sqlite`, `postgres`, comma-separated; default both).
//! With both, a test gets a [`Mirror`]: every call goes to a SQLite store and to a
//! PostgreSQL store, both answers must agree (or the test fails naming the call and both
//! answers), and the SQLite answer is returned. So each store and API test runs unchanged
//! against both backends and also checks that they give identical results.

use async_trait::async_trait;
use pacer::store::{
    ImportCounts, IncidentDelivery, IncidentEvent, LeadTimeSet, ListQuery, Recorded, ServiceRecord,
    SharedStore, Store, StoreError, TriageEntry, WebhookDelivery,
};
use pacer_core::{Deployment, EventSet, Incident, IncidentUpdate, Timestamp, Window};
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends this run asks for (PostgreSQL only when a cluster can be had).
pub fn wanted() -> Vec<Backend> {
    let list = std::env::var("PACER_TEST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "sqlite" => out.push(Backend::Sqlite),
            "postgres" => {
                if super::pg::admin_url().is_some() {
                    out.push(Backend::Postgres);
                }
            }
            other => panic!("PACER_TEST_BACKENDS: unknown backend {other:?} (sqlite, postgres)"),
        }
    }
    out
}

/// The URL of a fresh database of `backend`; SQLite files go in `dir`.
pub async fn fresh_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("pacer.db").display()),
        Backend::Postgres => super::pg::fresh_database()
            .await
            .expect("PostgreSQL was available when the backends were chosen"),
    }
}

/// A fresh store on every wanted backend (a [`Mirror`] when there are two); SQLite files
/// go in `dir`. Opened by `pacer::store::open`, as the server does it.
pub async fn fresh_store(dir: &Path) -> SharedStore {
    let mut stores = Vec::new();
    for backend in wanted() {
        let url = fresh_url(backend, dir).await;
        let store = pacer::store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open a fresh {backend:?} store: {e}"));
        stores.push((backend, store));
    }
    match stores.len() {
        0 => panic!("PACER_TEST_BACKENDS names no available backend"),
        1 => stores.pop().expect("one store").1,
        _ => {
            let secondary = stores.pop().expect("two stores").1;
            let primary = stores.pop().expect("two stores").1;
            Arc::new(Mirror {
                primary,
                secondary,
                order: RwLock::new(()),
            })
        }
    }
}

/// Two stores that must answer alike. Writes are applied one at a time (reads wait for
/// them), so both backends see the same sequence: which of two concurrent deliveries of
/// one id is "created" would otherwise be a race each backend may settle differently.
/// Group commit under concurrency is tested per backend (tests/store/group_commit.rs).
pub struct Mirror {
    primary: SharedStore,
    secondary: SharedStore,
    order: RwLock<()>,
}

/// Both answers agree (as `normal` sees them); returns the primary's.
fn agree<T: Debug, N: PartialEq + Debug>(
    call: &str,
    primary: Result<T, StoreError>,
    secondary: Result<T, StoreError>,
    normal: impl Fn(&T) -> N,
) -> Result<T, StoreError> {
    match (&primary, &secondary) {
        (Ok(a), Ok(b)) => assert_eq!(
            normal(a),
            normal(b),
            "{call}: SQLite (left) and PostgreSQL (right) answered differently"
        ),
        // A refusal must be the same refusal; database failures differ in wording.
        (Err(StoreError::Invalid(a)), Err(StoreError::Invalid(b))) => assert_eq!(
            a.to_string(),
            b.to_string(),
            "{call}: SQLite and PostgreSQL refused differently"
        ),
        (Err(StoreError::Invalid(_)), _)
        | (_, Err(StoreError::Invalid(_)))
        | (Ok(_), Err(_))
        | (Err(_), Ok(_)) => {
            panic!("{call}: SQLite answered {primary:?}, PostgreSQL answered {secondary:?}")
        }
        (Err(_), Err(_)) => {}
    }
    primary
}

fn same<T: Clone>(t: &T) -> T {
    t.clone()
}

/// Event sets in a canonical order: a window load promises its contents, not an order.
fn sorted(e: &EventSet) -> EventSet {
    let mut e = e.clone();
    e.deployments.sort_by(|a, b| a.id.cmp(&b.id));
    e.incidents.sort_by(|a, b| a.id.cmp(&b.id));
    e
}

#[async_trait]
impl Store for Mirror {
    async fn record_deployment(&self, d: &Deployment) -> Result<Recorded, StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.record_deployment(d).await;
        let b = self.secondary.record_deployment(d).await;
        agree("record_deployment", a, b, same)
    }

    async fn record_incident(
        &self,
        update: IncidentUpdate,
    ) -> Result<(Incident, Recorded), StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.record_incident(update.clone()).await;
        let b = self.secondary.record_incident(update).await;
        agree("record_incident", a, b, same)
    }

    async fn set_lead_time(&self, id: &str, seconds: f64) -> Result<LeadTimeSet, StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.set_lead_time(id, seconds).await;
        let b = self.secondary.set_lead_time(id, seconds).await;
        agree("set_lead_time", a, b, same)
    }

    async fn record_webhook_deployment(
        &self,
        source: &str,
        key: &str,
        d: &Deployment,
    ) -> Result<WebhookDelivery, StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.record_webhook_deployment(source, key, d).await;
        let b = self
            .secondary
            .record_webhook_deployment(source, key, d)
            .await;
        agree("record_webhook_deployment", a, b, same)
    }

    async fn record_incident_event(
        &self,
        source: &str,
        key: &str,
        event: &IncidentEvent,
    ) -> Result<IncidentDelivery, StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.record_incident_event(source, key, event).await;
        let b = self
            .secondary
            .record_incident_event(source, key, event)
            .await;
        agree("record_incident_event", a, b, same)
    }

    async fn triage_history(&self, id: &str) -> Result<Vec<TriageEntry>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.triage_history(id).await;
        let b = self.secondary.triage_history(id).await;
        agree("triage_history", a, b, same)
    }

    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.deployment(id).await;
        let b = self.secondary.deployment(id).await;
        agree("deployment", a, b, same)
    }

    fn legacy_push_ids_until(&self) -> Option<Timestamp> {
        let (a, b) = (
            self.primary.legacy_push_ids_until(),
            self.secondary.legacy_push_ids_until(),
        );
        assert_eq!(a, b, "legacy_push_ids_until: the backends disagree");
        a
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.incident(id).await;
        let b = self.secondary.incident(id).await;
        agree("incident", a, b, same)
    }

    async fn list_deployments(&self, q: &ListQuery) -> Result<Vec<Deployment>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.list_deployments(q).await;
        let b = self.secondary.list_deployments(q).await;
        agree("list_deployments", a, b, same)
    }

    async fn list_incidents(&self, q: &ListQuery) -> Result<Vec<Incident>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.list_incidents(q).await;
        let b = self.secondary.list_incidents(q).await;
        agree("list_incidents", a, b, same)
    }

    async fn deployments_between(
        &self,
        service: Option<&str>,
        environments: &[String],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Deployment>, StoreError> {
        let _r = self.order.read().await;
        let a = self
            .primary
            .deployments_between(service, environments, from, to)
            .await;
        let b = self
            .secondary
            .deployments_between(service, environments, from, to)
            .await;
        agree("deployments_between", a, b, same)
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.services().await;
        let b = self.secondary.services().await;
        agree("services", a, b, same)
    }

    async fn latest_deployment(
        &self,
        service: &str,
        environments: &[String],
    ) -> Result<Option<Deployment>, StoreError> {
        let _r = self.order.read().await;
        let a = self.primary.latest_deployment(service, environments).await;
        let b = self
            .secondary
            .latest_deployment(service, environments)
            .await;
        agree("latest_deployment", a, b, same)
    }

    async fn load_window(
        &self,
        services: Option<&[String]>,
        environments: &[String],
        window: Window,
    ) -> Result<EventSet, StoreError> {
        let _r = self.order.read().await;
        let a = self
            .primary
            .load_window(services, environments, window)
            .await;
        let b = self
            .secondary
            .load_window(services, environments, window)
            .await;
        agree("load_window", a, b, sorted)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let a = self.primary.ping().await;
        let b = self.secondary.ping().await;
        agree("ping", a, b, same)
    }

    async fn import_batch(
        &self,
        deployments: &[Deployment],
        incidents: &[IncidentUpdate],
    ) -> Result<ImportCounts, StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.import_batch(deployments, incidents).await;
        let b = self.secondary.import_batch(deployments, incidents).await;
        agree("import_batch", a, b, same)
    }

    async fn import_done(&self) -> Result<(), StoreError> {
        let _w = self.order.write().await;
        let a = self.primary.import_done().await;
        let b = self.secondary.import_done().await;
        agree("import_done", a, b, same)
    }
}
