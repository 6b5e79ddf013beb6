//! Group commit: one task owns the write connection and commits the writes that queue up
//! while the previous commit was syncing, in one transaction.
//!
//! With `synchronous = FULL` every commit waits for the disk; committing one request per
//! transaction would cap ingest at the disk's sync rate. Each write still runs in its own
//! savepoint, so a write that fails (a merge the store refuses) is rolled back alone, and
//! every caller is answered only after the transaction holding its write has committed.

use super::sql::{
    INCIDENT_COLUMNS, MAX_PARAMS_PER_QUERY, env_key, incident_from_row, placeholders, query,
};
use super::{Recorded, StoreError};
use pacer_core::{Deployment, Incident, IncidentUpdate, Timestamp};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

/// Most writes committed together; bounds the time a transaction holds the write lock.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer; further requests wait for room (backpressure).
const QUEUE_DEPTH: usize = 4096;

pub enum WriteOp {
    Deployment(Deployment),
    Incident(IncidentUpdate),
}

pub enum WriteOutcome {
    Deployment(Recorded),
    Incident(Incident, Recorded),
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
        let _enter = span.enter();
        commit_batch(&pool, std::mem::take(&mut batch)).await;
    }
}

async fn commit_batch(pool: &AnyPool, batch: Vec<Job>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for job in batch {
                let _ = job.reply.send(Err(StoreError::Commit(message.clone())));
            }
            return;
        }
    };
    let now = crate::timefmt::now();
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        let result = in_savepoint(&mut tx, job.op, now).await;
        answers.push((job.reply, result));
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed; no write of the batch was stored");
            let message = e.to_string();
            for (reply, result) in answers {
                // A write refused on its own merits keeps its own (4xx) answer.
                let answer = match result {
                    Err(refused @ StoreError::Invalid(_)) => Err(refused),
                    _ => Err(StoreError::Commit(message.clone())),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

async fn in_savepoint(
    conn: &mut AnyConnection,
    op: WriteOp,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
    let result = match op {
        WriteOp::Deployment(d) => insert_deployment(conn, &d, now)
            .await
            .map(WriteOutcome::Deployment),
        WriteOp::Incident(u) => merge_incident(conn, u, now)
            .await
            .map(|(i, r)| WriteOutcome::Incident(i, r)),
    };
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

/// Inserts a deployment and its changes; a known id keeps its first recording.
async fn insert_deployment(
    conn: &mut AnyConnection,
    d: &Deployment,
    now: Timestamp,
) -> Result<Recorded, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, \
         sha, repo, team, lead_time_seconds, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
    )
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
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Recorded::AlreadyRecorded);
    }
    const PER_ROW: usize = 5;
    const ROWS_PER_STATEMENT: usize = MAX_PARAMS_PER_QUERY / PER_ROW;
    for (chunk_no, chunk) in d.changes.chunks(ROWS_PER_STATEMENT).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * PER_ROW, PER_ROW)))
            .collect();
        let sql = format!(
            "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) VALUES {}",
            rows.join(", ")
        );
        let mut q = query(sql);
        for (i, c) in chunk.iter().enumerate() {
            let position = (chunk_no * ROWS_PER_STATEMENT + i) as i64;
            q = q
                .bind(d.id.clone())
                .bind(position)
                .bind(d.service.clone())
                .bind(c.id.clone())
                .bind(c.started_at.millis());
        }
        q.execute(&mut *conn).await?;
    }
    upsert_service(
        conn,
        &d.service,
        d.team.as_deref().map(|t| (t, d.deployed_at, d.id.as_str())),
    )
    .await?;
    Ok(Recorded::Created)
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
        upsert_service(conn, service, None).await?;
    }
    Ok((merged, recorded))
}

/// Records a service, and the team of its latest deployment naming one (latest by
/// deployed_at, then id, so delivery order never matters).
async fn upsert_service(
    conn: &mut AnyConnection,
    name: &str,
    team: Option<(&str, Timestamp, &str)>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET team = excluded.team, \
         team_deployed_at = excluded.team_deployed_at, team_deployment_id = excluded.team_deployment_id \
         WHERE excluded.team IS NOT NULL AND (services.team IS NULL \
         OR excluded.team_deployed_at > services.team_deployed_at \
         OR (excluded.team_deployed_at = services.team_deployed_at \
             AND excluded.team_deployment_id > services.team_deployment_id))",
    )
    .bind(name.to_string())
    .bind(team.map(|(t, _, _)| t.to_string()))
    .bind(team.map(|(_, at, _)| at.millis()))
    .bind(team.map(|(_, _, id)| id.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
