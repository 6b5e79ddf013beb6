//! Group commit: one task owns the write connection and commits the writes that queue up
//! while the previous commit was syncing, in one transaction.
//!
//! With `synchronous = FULL` every commit waits for the disk; committing one request per
//! transaction would cap ingest at the disk's sync rate. Each write still runs in its own
//! savepoint, so a write that fails (a merge the store refuses) is rolled back alone, and
//! every caller is answered only after the transaction holding its write has committed.

use super::sql::{
    INCIDENT_COLUMNS, env_key, incident_from_row, labels_column, placeholders, query,
};
use super::{LeadTimeSet, Recorded, StoreError, WebhookDelivery};
use pacer_core::{Deployment, Incident, IncidentUpdate, Timestamp};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{BTreeMap, HashSet};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Most writes committed together; bounds the time a transaction holds the write lock.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer; further requests wait for room (backpressure).
const QUEUE_DEPTH: usize = 4096;

pub enum WriteOp {
    Deployment(Deployment),
    Incident(IncidentUpdate),
    LeadTime {
        deployment_id: String,
        seconds: f64,
    },
    WebhookDelivery {
        source: String,
        key: String,
        deployment: Deployment,
    },
}

pub enum WriteOutcome {
    Deployment(Recorded),
    Incident(Incident, Recorded),
    LeadTime(LeadTimeSet),
    WebhookDelivery(WebhookDelivery),
}

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

/// The handle writes are submitted through.
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `pool` (a one-connection pool).
    pub fn spawn(pool: AnyPool) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, jobs));
        Writer { queue }
    }

    /// Queues one write and waits until it is committed (or refused).
    pub async fn submit(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(pool: AnyPool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let span = tracing::debug_span!("commit", writes = batch.len());
        commit_batch(&pool, std::mem::take(&mut batch))
            .instrument(span)
            .await;
    }
}

async fn commit_batch(pool: &AnyPool, batch: Vec<Job>) {
    let (replies, ops): (Vec<_>, Vec<_>) = batch.into_iter().map(|j| (j.reply, j.op)).unzip();
    let answers = match write_batch(pool, ops).await {
        Ok(answers) => answers,
        Err(e) => {
            tracing::error!(error = %e, "batch failed; none of its writes was stored");
            let message = e.to_string();
            replies
                .iter()
                .map(|_| Err(StoreError::Commit(message.clone())))
                .collect()
        }
    };
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer);
    }
}

/// Writes one batch in one transaction; the answers are in the order of `ops`.
/// `Err` means nothing of the batch was committed.
async fn write_batch(
    pool: &AnyPool,
    ops: Vec<WriteOp>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let now = crate::timefmt::now();
    let mut tx = pool.begin().await?;
    let mut answers: Vec<Option<Result<WriteOutcome, StoreError>>> =
        (0..ops.len()).map(|_| None).collect();
    let mut deployments = Vec::new();
    let mut incidents = Vec::new();
    let mut lead_times = Vec::new();
    let mut webhook_deliveries = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            WriteOp::Deployment(d) => deployments.push((i, d)),
            WriteOp::Incident(u) => incidents.push((i, u)),
            WriteOp::LeadTime {
                deployment_id,
                seconds,
            } => lead_times.push((i, deployment_id, seconds)),
            WriteOp::WebhookDelivery {
                source,
                key,
                deployment,
            } => webhook_deliveries.push((i, source, key, deployment)),
        }
    }
    // Deployments were validated at the edge and cannot be refused here, so they are
    // written with a few multi-row statements; a failure fails the whole batch.
    for (i, recorded) in insert_deployments(&mut tx, &deployments, now).await? {
        answers[i] = Some(Ok(WriteOutcome::Deployment(recorded)));
    }
    for (i, outcome) in record_webhook_deliveries(&mut tx, webhook_deliveries, now).await? {
        answers[i] = Some(Ok(WriteOutcome::WebhookDelivery(outcome)));
    }
    // An incident merge can be refused (a resolution before the opening): each runs in
    // its own savepoint so a refusal rolls back only itself.
    for (i, update) in incidents {
        answers[i] = Some(in_savepoint(&mut tx, update, now).await);
    }
    // After the deployments, so a deployment and its lead time may share a batch.
    for (i, deployment_id, seconds) in lead_times {
        let outcome = set_lead_time(&mut tx, &deployment_id, seconds).await?;
        answers[i] = Some(Ok(WriteOutcome::LeadTime(outcome)));
    }
    tx.commit().await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(StoreError::Commit("write was not answered".into()))))
        .collect())
}

async fn in_savepoint(
    conn: &mut AnyConnection,
    update: IncidentUpdate,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
    let result = merge_incident(conn, update, now)
        .await
        .map(|(i, r)| WriteOutcome::Incident(i, r));
    if result.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT write")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT write")
        .execute(&mut *conn)
        .await?;
    result
}

/// A deployment's claim that its service belongs to a team: (team, deployed_at, deployment id).
type TeamClaim<'a> = Option<(&'a str, Timestamp, &'a str)>;

/// Bound parameters per bulk statement: well under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BULK_PARAMS: usize = 4000;

/// Inserts deployments and their changes; a known id keeps its first recording (also
/// within the batch). Returns each input index with what happened to it.
async fn insert_deployments(
    conn: &mut AnyConnection,
    deployments: &[(usize, Deployment)],
    now: Timestamp,
) -> Result<Vec<(usize, Recorded)>, StoreError> {
    // The first of several deliveries of one id in the batch is the one that may insert.
    let mut first_in_batch: HashSet<&str> = HashSet::new();
    let candidates: Vec<&Deployment> = deployments
        .iter()
        .map(|(_, d)| d)
        .filter(|d| first_in_batch.insert(d.id.as_str()))
        .collect();

    const PER_DEPLOYMENT: usize = 15;
    let mut inserted: HashSet<String> = HashSet::new();
    for chunk in candidates.chunks(MAX_BULK_PARAMS / PER_DEPLOYMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * PER_DEPLOYMENT, PER_DEPLOYMENT)))
            .collect();
        let sql = format!(
            "INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, \
             sha, repo, team, lead_time_seconds, received_at, marked_hotfix, marked_rollback, \
             branch, labels) VALUES {} \
             ON CONFLICT (id) DO NOTHING RETURNING id",
            rows.join(", ")
        );
        let mut q = query(sql);
        for d in chunk {
            q = q
                .bind(d.id.clone())
                .bind(d.service.clone())
                .bind(d.environment.clone())
                .bind(env_key(&d.environment))
                .bind(d.status.as_str())
                .bind(d.deployed_at.millis())
                .bind(d.sha.clone())
                .bind(d.repo.clone())
                .bind(d.team.clone())
                .bind(d.lead_time_seconds)
                .bind(now.millis())
                .bind(i64::from(d.hotfix))
                .bind(i64::from(d.rollback))
                .bind(d.branch.clone())
                .bind(labels_column(&d.labels));
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get("id")?);
        }
    }
    let new: Vec<&Deployment> = candidates
        .into_iter()
        .filter(|d| inserted.contains(&d.id))
        .collect();
    let mut answered: HashSet<&str> = HashSet::new();
    let outcome = deployments
        .iter()
        .map(|(i, d)| {
            let created = inserted.contains(&d.id) && answered.insert(d.id.as_str());
            (
                *i,
                if created {
                    Recorded::Created
                } else {
                    Recorded::AlreadyRecorded
                },
            )
        })
        .collect();

    const PER_CHANGE: usize = 5;
    let changes: Vec<(&Deployment, usize, &pacer_core::Change)> = new
        .iter()
        .flat_map(|d| d.changes.iter().enumerate().map(move |(p, c)| (*d, p, c)))
        .collect();
    for chunk in changes.chunks(MAX_BULK_PARAMS / PER_CHANGE) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * PER_CHANGE, PER_CHANGE)))
            .collect();
        let sql = format!(
            "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) VALUES {}",
            rows.join(", ")
        );
        let mut q = query(sql);
        for (d, position, c) in chunk {
            q = q
                .bind(d.id.clone())
                .bind(*position as i64)
                .bind(d.service.clone())
                .bind(c.id.clone())
                .bind(c.started_at.millis());
        }
        q.execute(&mut *conn).await?;
    }

    // One row per service (a statement may not upsert the same row twice): the batch's
    // latest deployment naming a team, which the upsert compares with the stored one.
    let mut services: BTreeMap<&str, TeamClaim<'_>> = BTreeMap::new();
    for d in &new {
        let entry = services.entry(d.service.as_str()).or_insert(None);
        if let Some(team) = d.team.as_deref()
            && entry.is_none_or(|(_, at, id)| (d.deployed_at, d.id.as_str()) > (at, id))
        {
            *entry = Some((team, d.deployed_at, d.id.as_str()));
        }
    }
    let services: Vec<_> = services.into_iter().collect();
    for chunk in services.chunks(MAX_BULK_PARAMS / 4) {
        upsert_services(conn, chunk).await?;
    }
    Ok(outcome)
}

/// Remembers each new webhook delivery and inserts its deployment; a delivery already
/// remembered (earlier, or earlier in this batch) writes nothing.
async fn record_webhook_deliveries(
    conn: &mut AnyConnection,
    deliveries: Vec<(usize, String, String, Deployment)>,
    now: Timestamp,
) -> Result<Vec<(usize, WebhookDelivery)>, StoreError> {
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let mut new = Vec::new();
    for (i, source, key, deployment) in deliveries {
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (source, delivery_key, deployment_id, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (source, delivery_key) DO NOTHING",
        )
        .bind(source.clone())
        .bind(key.clone())
        .bind(deployment.id.clone())
        .bind(now.millis())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted > 0 {
            new.push((i, deployment));
        } else {
            let deployment_id: String = sqlx::query(
                "SELECT deployment_id FROM webhook_deliveries \
                 WHERE source = $1 AND delivery_key = $2",
            )
            .bind(source)
            .bind(key)
            .fetch_one(&mut *conn)
            .await?
            .try_get("deployment_id")?;
            outcomes.push((i, WebhookDelivery::AlreadyProcessed { deployment_id }));
        }
    }
    // After the batch's own deployments, so an id the API sent in the same batch is
    // "already recorded" here, exactly as if it had come first in its own batch.
    for (i, recorded) in insert_deployments(conn, &new, now).await? {
        outcomes.push((i, WebhookDelivery::Processed(recorded)));
    }
    Ok(outcomes)
}

/// Sets the precomputed lead time of a deployment that carries no changes (a deployment
/// with changes takes its lead times from their start times; the two never mix).
async fn set_lead_time(
    conn: &mut AnyConnection,
    deployment_id: &str,
    seconds: f64,
) -> Result<LeadTimeSet, StoreError> {
    let updated = sqlx::query(
        "UPDATE deployments SET lead_time_seconds = $1 WHERE id = $2 \
         AND NOT EXISTS (SELECT 1 FROM deployment_changes WHERE deployment_id = $2)",
    )
    .bind(seconds)
    .bind(deployment_id.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated > 0 {
        return Ok(LeadTimeSet::Set);
    }
    let known = sqlx::query("SELECT 1 AS known FROM deployments WHERE id = $1")
        .bind(deployment_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    Ok(if known {
        LeadTimeSet::CarriesChanges
    } else {
        LeadTimeSet::UnknownDeployment
    })
}

/// Merges one incident delivery into the stored row (newest state of each field wins).
async fn merge_incident(
    conn: &mut AnyConnection,
    update: IncidentUpdate,
    now: Timestamp,
) -> Result<(Incident, Recorded), StoreError> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
    let existing = query(sql)
        .bind(update.id.clone())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| incident_from_row(&r))
        .transpose()?;
    let recorded = if existing.is_some() {
        Recorded::AlreadyRecorded
    } else {
        Recorded::Created
    };
    let merged = update.apply(existing.as_ref())?;
    sqlx::query(
        "INSERT INTO incidents (id, service, environment, env_key, opened_at, resolved_at, \
         severity, caused_by_deploy, deployment_id, received_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (id) DO UPDATE SET service = excluded.service, \
         environment = excluded.environment, env_key = excluded.env_key, \
         opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, \
         severity = excluded.severity, caused_by_deploy = excluded.caused_by_deploy, \
         deployment_id = excluded.deployment_id, updated_at = excluded.updated_at",
    )
    .bind(merged.id.clone())
    .bind(merged.service.clone())
    .bind(merged.environment.clone())
    .bind(env_key(&merged.environment))
    .bind(merged.opened_at.millis())
    .bind(merged.resolved_at.map(Timestamp::millis))
    .bind(merged.severity.clone())
    .bind(merged.caused_by_deploy.map(i64::from))
    .bind(merged.deployment_id.clone())
    .bind(now.millis())
    .execute(&mut *conn)
    .await?;
    if let Some(service) = &merged.service {
        upsert_services(conn, &[(service.as_str(), None)]).await?;
    }
    Ok((merged, recorded))
}

/// Records services, each with the team of its latest deployment naming one (latest by
/// deployed_at, then id, so delivery order never matters). Names must be distinct.
async fn upsert_services(
    conn: &mut AnyConnection,
    services: &[(&str, TeamClaim<'_>)],
) -> Result<(), StoreError> {
    let rows: Vec<String> = (0..services.len())
        .map(|i| format!("({})", placeholders(1 + 4 * i, 4)))
        .collect();
    let sql = format!(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) VALUES {} \
         ON CONFLICT (name) DO UPDATE SET team = excluded.team, \
         team_deployed_at = excluded.team_deployed_at, team_deployment_id = excluded.team_deployment_id \
         WHERE excluded.team IS NOT NULL AND (services.team IS NULL \
         OR excluded.team_deployed_at > services.team_deployed_at \
         OR (excluded.team_deployed_at = services.team_deployed_at \
             AND excluded.team_deployment_id > services.team_deployment_id))",
        rows.join(", ")
    );
    let mut q = query(sql);
    for (name, team) in services {
        q = q
            .bind(name.to_string())
            .bind(team.map(|(t, _, _)| t.to_string()))
            .bind(team.map(|(_, at, _)| at.millis()))
            .bind(team.map(|(_, _, id)| id.to_string()));
    }
    q.execute(&mut *conn).await?;
    Ok(())
}
