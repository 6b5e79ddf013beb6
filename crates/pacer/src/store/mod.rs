//! Storage: one trait, picked once at start-up. Handlers and the CLI see only [`Store`].

mod bulk;
mod read;
mod sql;
mod writer;

pub use sql::{Backend, SCHEMA_VERSION, SqlStore, redact_url};

use async_trait::async_trait;
use pacer_core::{
    Deployment, EventSet, Incident, IncidentError, IncidentUpdate, Timestamp, Window,
};
use std::collections::BTreeMap;
use std::sync::Arc;

pub type SharedStore = Arc<dyn Store>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Invalid(#[from] IncidentError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite's reads and its writer thread go through rusqlite (store/read.rs).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a database read did not finish: {0}")]
    ReadStopped(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
    #[error(
        "cannot reach the database at {url}: {source} (is PostgreSQL running and the URL right? \
         TLS (sslmode=require) is not supported: reach it on loopback or the cluster network)"
    )]
    Unreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the database schema is at version {found}, newer than this binary knows ({known}): \
         it was migrated by a newer Pacer; run that version (or newer) instead"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the database writer has stopped (the server is shutting down)")]
    WriterStopped,
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

/// Whether a delivery created an event or found it already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    AlreadyRecorded,
}

/// What a vendor webhook delivery did (see [`Store::record_webhook_deployment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookDelivery {
    /// A new delivery: its deployment was created, or was already recorded under its id
    /// (the same deployment reported through another delivery).
    Processed(Recorded),
    /// This delivery was processed before; nothing was written.
    AlreadyProcessed { deployment_id: String },
}

/// One incident-tool event (PagerDuty, OpsGenie, Alertmanager), already parsed: what it
/// says about the incident at `occurred_at`. Deliveries may arrive out of order; the store
/// applies each part only when no newer event already set it (see
/// [`Store::record_incident_event`]). It never carries triage: only people triage.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    pub incident_id: String,
    /// When the tool says the event happened; orders deliveries.
    pub occurred_at: Timestamp,
    /// When the incident opened, when the payload says (PagerDuty `created_at`, OpsGenie
    /// `createdAt`, Alertmanager `startsAt`); a new incident without it opens at
    /// `occurred_at`.
    pub opened_at: Option<Timestamp>,
    /// Open or resolved as of `occurred_at`; `None`: the event says nothing (a note).
    pub state: Option<IncidentState>,
    pub service: Option<String>,
    pub severity: Option<String>,
    /// The environment a new incident gets.
    pub environment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentState {
    Open,
    /// Resolved at `at`. `exact: false` when the event only reports the status (a later
    /// priority change of a resolved incident): a resolution time already stored wins.
    Resolved {
        at: Timestamp,
        exact: bool,
    },
}

/// What an incident-tool delivery did (see [`Store::record_incident_event`]).
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentDelivery {
    Processed {
        incident: Incident,
        recorded: Recorded,
        /// The event's state was older than the stored one and was not applied.
        stale: bool,
    },
    /// This delivery was processed before; nothing was written.
    AlreadyProcessed { incident_id: String },
}

/// One human triage that changed an incident: who (the API token's name), when, and
/// each field's old and new value (as text; `None`: unset).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageEntry {
    pub at: Timestamp,
    pub actor: String,
    pub changes: Vec<pacer_core::TriageChange>,
}

/// What setting a deployment's precomputed lead time did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadTimeSet {
    Set,
    /// No deployment has that id.
    UnknownDeployment,
    /// The deployment lists its changes; its lead times come from them.
    CarriesChanges,
}

/// Filters for listing events, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub service: Option<String>,
    /// Restrict to these services (a team resolved to its services).
    pub services: Option<Vec<String>>,
    /// Compared case-insensitively.
    pub environment: Option<String>,
    pub status: Option<String>,
    /// Inclusive lower bound on the event time.
    pub from: Option<Timestamp>,
    /// Inclusive upper bound on the event time.
    pub to: Option<Timestamp>,
    /// Incidents only: `Some(true)` only untriaged, `Some(false)` only triaged.
    pub untriaged: Option<bool>,
    pub limit: u32,
    pub offset: u64,
}

/// What the store knows about a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRecord {
    pub name: String,
    /// The team of its latest deployment that names one.
    pub named_team: Option<String>,
}

/// What [`Store::import_batch`] did. Incidents count once per id in a batch, however many
/// of its deliveries the batch carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub deployments_created: u64,
    /// Deployments whose id was already stored (or came earlier in the batch): not written.
    pub deployments_already: u64,
    /// Changes of the created deployments.
    pub changes_created: u64,
    pub incidents_created: u64,
    /// Stored incidents the deliveries changed.
    pub incidents_updated: u64,
    /// Stored incidents the deliveries left as they were: not written.
    pub incidents_unchanged: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, o: ImportCounts) {
        self.deployments_created += o.deployments_created;
        self.deployments_already += o.deployments_already;
        self.changes_created += o.changes_created;
        self.incidents_created += o.incidents_created;
        self.incidents_updated += o.incidents_updated;
        self.incidents_unchanged += o.incidents_unchanged;
    }
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Records a deployment and its changes in one transaction; a known id keeps its first
    /// recording.
    async fn record_deployment(&self, deployment: &Deployment) -> Result<Recorded, StoreError>;

    /// Merges one incident delivery into the stored state in one transaction.
    async fn record_incident(
        &self,
        update: IncidentUpdate,
    ) -> Result<(Incident, Recorded), StoreError>;

    /// Sets (or replaces) the precomputed `lead_time_seconds` of a recorded deployment
    /// that carries no changes: the Pushgateway recipe sends it after the deployment.
    async fn set_lead_time(
        &self,
        deployment_id: &str,
        seconds: f64,
    ) -> Result<LeadTimeSet, StoreError>;

    /// Records the deployment of one vendor webhook delivery, keyed by `(source,
    /// delivery_key)`, in one transaction: a delivery seen before writes nothing, and a
    /// delivery is remembered only together with its deployment.
    async fn record_webhook_deployment(
        &self,
        source: &str,
        delivery_key: &str,
        deployment: &Deployment,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Merges one incident-tool delivery, keyed by `(source, delivery_key)`, in one
    /// transaction: a delivery seen before writes nothing; the open/resolved state,
    /// severity and service each take the newest event's value (by `occurred_at`), so
    /// deliveries in any order converge; triage fields are never touched.
    async fn record_incident_event(
        &self,
        source: &str,
        delivery_key: &str,
        event: &IncidentEvent,
    ) -> Result<IncidentDelivery, StoreError>;

    /// The triage log of an incident, oldest first (empty for an unknown id).
    async fn triage_history(&self, id: &str) -> Result<Vec<TriageEntry>, StoreError>;

    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError>;

    /// The latest deployment time a pushed deployment stored under the old push id format
    /// (before schema version 9, `pushgateway::legacy_deployment_id`) can have; `None`
    /// when the store held no such id when it was upgraded. A push of a deployment at or
    /// before this time looks for its old id too, so that it is not recorded twice.
    fn legacy_push_ids_until(&self) -> Option<Timestamp>;

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError>;
    async fn list_deployments(&self, query: &ListQuery) -> Result<Vec<Deployment>, StoreError>;
    async fn list_incidents(&self, query: &ListQuery) -> Result<Vec<Incident>, StoreError>;

    /// Successful deployments in any of `environments` (lower-case) of `service` (any
    /// service when `None`) deployed in `[from, to]`, newest first.
    async fn deployments_between(
        &self,
        service: Option<&str>,
        environments: &[String],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Deployment>, StoreError>;

    /// Every service any event named, sorted by name.
    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError>;

    /// The latest successful deployment of `service` in `environments`, if any, without
    /// its changes (listings show which release runs, not what it carried).
    async fn latest_deployment(
        &self,
        service: &str,
        environments: &[String],
    ) -> Result<Option<Deployment>, StoreError>;

    /// Everything needed to compute exact figures for `services` (all when `None`) over
    /// `window`, with `environments` (lower-case) as production. See
    /// `docs/architecture.md` for what that is and why it suffices.
    async fn load_window(
        &self,
        services: Option<&[String]>,
        environments: &[String],
        window: Window,
    ) -> Result<EventSet, StoreError>;

    /// Readiness: can the database answer?
    async fn ping(&self) -> Result<(), StoreError>;

    /// Bulk import (`pacer import`): records `deployments` as [`Store::record_deployment`]
    /// does and merges `incidents` in order as [`Store::record_incident`] does, in one
    /// transaction: a refused merge writes nothing of the batch. The SQL store writes the
    /// same rows through a faster path (store/bulk.rs); this default goes one by one.
    async fn import_batch(
        &self,
        deployments: &[Deployment],
        incidents: &[IncidentUpdate],
    ) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        for d in deployments {
            match self.record_deployment(d).await? {
                Recorded::Created => {
                    counts.deployments_created += 1;
                    counts.changes_created += d.changes.len() as u64;
                }
                Recorded::AlreadyRecorded => counts.deployments_already += 1,
            }
        }
        let mut seen: BTreeMap<String, Option<Incident>> = BTreeMap::new();
        for update in incidents {
            if !seen.contains_key(&update.id) {
                let before = self.incident(&update.id).await?;
                seen.insert(update.id.clone(), before);
            }
            self.record_incident(update.clone()).await?;
        }
        for (id, before) in seen {
            let after = self.incident(&id).await?;
            match before {
                None => counts.incidents_created += 1,
                Some(b) if Some(&b) == after.as_ref() => counts.incidents_unchanged += 1,
                Some(_) => counts.incidents_updated += 1,
            }
        }
        Ok(counts)
    }

    /// Ends an import (after the last [`Store::import_batch`]): the SQL store folds the
    /// write-ahead log the import left into the database file and releases the import's
    /// connection. Nothing to do by default.
    async fn import_done(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The team each service's deployments name, for [`pacer_core::TeamMap`].
pub fn named_teams(services: &[ServiceRecord]) -> BTreeMap<String, String> {
    services
        .iter()
        .filter_map(|s| s.named_team.clone().map(|t| (s.name.clone(), t)))
        .collect()
}

/// Connects to the database named by `url` and brings its schema up to date (`pacer
/// migrate`); returns the schema version.
pub async fn migrate(url: &str) -> Result<i64, StoreError> {
    SqlStore::migrate_only(url).await
}

/// Opens the database named by `url`, creating and migrating it.
pub async fn open(url: &str) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(SqlStore::open(url).await?))
}
