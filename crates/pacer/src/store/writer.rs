//! Group commit: one writer owns the write connection and commits the writes that queue up
//! while the previous commit was running, in one transaction. On PostgreSQL the writer is a
//! task; on SQLite it is a thread of its own (sqlite_thread.rs), with a second thread that
//! checkpoints the write-ahead log.
//!
//! With `synchronous = FULL` every commit waits for the disk; committing one request per
//! transaction would cap ingest at the disk's sync rate. Each write still runs in its own
//! savepoint, so a write that fails (a merge the store refuses) is rolled back alone, and
//! every caller is answered only after the transaction holding its write has committed.

use super::sql::{
    AnyQuery, Backend, DEPLOYMENT_INSERT_COLUMNS, DEPLOYMENT_ON_CONFLICT, INCIDENT_COLUMNS,
    INCIDENT_ON_CONFLICT, INCIDENT_UPSERT_COLUMNS, SERVICES_ON_CONFLICT, anonymous_parameters,
    bulk_query, env_key, incident_from_row, labels_column, placeholders, query,
};
use super::{IncidentDelivery, IncidentEvent, IncidentState};
use super::{LeadTimeSet, Recorded, StoreError, WebhookDelivery};
use pacer_core::{Deployment, Incident, IncidentUpdate, Timestamp};

use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

mod sqlite_thread;
pub(super) use sqlite_thread::{merge_inbox, open as open_sqlite_connection};

/// Most writes committed together; bounds the time a transaction holds the write lock.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer; further requests wait for room (backpressure).
const QUEUE_DEPTH: usize = 4096;

#[derive(Clone)]
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
    IncidentEvent {
        source: String,
        key: String,
        event: IncidentEvent,
    },
    /// Moves SQLite's inbox of acknowledged deployments into the event tables, so that a
    /// read sees them (sqlite_thread.rs); nothing to do on PostgreSQL, which has none.
    Settle,
}

pub enum WriteOutcome {
    Deployment(Recorded),
    Incident(Incident, Recorded),
    LeadTime(LeadTimeSet),
    WebhookDelivery(WebhookDelivery),
    IncidentEvent(IncidentDelivery),
    Settled,
}

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

/// The handle writes are submitted through.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

/// How a committed batch becomes durable before its callers are answered.
pub enum Durability {
    /// The commit itself waits for the disk (PostgreSQL; SQLite with `synchronous=FULL`
    /// set on the connection), or nothing waits for it (`?synchronous=normal`).
    AtCommit,
    /// SQLite in WAL mode with `synchronous = NORMAL` on the write connection, so a commit
    /// only appends its frames to this write-ahead log file; the writer then makes them
    /// durable with one `fdatasync` of the file, and only then answers the batch's callers.
    /// An acknowledged write survives a power cut exactly as with `synchronous=FULL`, but
    /// checkpoints (which copy the log into the database and sync both) run on their own
    /// thread instead of inside a commit (sqlite_thread.rs).
    SyncWal(std::path::PathBuf),
}

/// A committed batch's answers, waiting for the sync that makes them durable.
type Committed = Vec<(
    oneshot::Sender<Result<WriteOutcome, StoreError>>,
    Result<WriteOutcome, StoreError>,
)>;

impl Writer {
    /// Starts PostgreSQL's writer task on `pool` (a one-connection pool); each commit is
    /// durable when PostgreSQL acknowledges it.
    pub fn spawn_postgres(pool: AnyPool) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_postgres(pool, jobs));
        Writer { queue }
    }

    /// Starts SQLite's writer thread (sqlite_thread.rs) on `conn`, with `pool` (a
    /// one-connection pool) for the batches that are not deployments only, and the thread
    /// that checkpoints the write-ahead log on `checkpointer`. Called inside the runtime,
    /// which those other batches run on.
    pub fn spawn_sqlite(
        conn: rusqlite::Connection,
        checkpointer: rusqlite::Connection,
        pool: AnyPool,
        durability: Durability,
        inbox: Arc<Inbox>,
    ) -> Result<Writer, StoreError> {
        let cannot_start =
            |e: std::io::Error| StoreError::Commit(format!("cannot start the writer: {e}"));
        let wal = match durability {
            Durability::AtCommit => None,
            Durability::SyncWal(wal) => Some(wal),
        };
        let (checkpoint, committed) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || sqlite_thread::checkpoint_wal(checkpointer, committed))
            .map_err(cannot_start)?;
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || sqlite_thread::run(conn, pool, runtime, jobs, wal, checkpoint, &inbox))
            .map_err(cannot_start)?;
        Ok(Writer { queue })
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

/// SQLite's inbox (migration 0010): how many acknowledged deployments wait in it for the
/// writer to move them into the event tables (sqlite_thread.rs).
#[derive(Default)]
pub(super) struct Inbox {
    pending: AtomicUsize,
}

/// What an event read on SQLite does first: when the inbox holds anything, it has the
/// writer move it, so the read sees every deployment acknowledged before it started.
#[derive(Clone)]
pub(super) struct SettleBeforeReads {
    pub(super) inbox: Arc<Inbox>,
    pub(super) writer: Writer,
}

impl SettleBeforeReads {
    pub(super) async fn settle(&self) -> Result<(), StoreError> {
        // The writer counts a commit's deployments in before it answers their senders,
        // and sets 0 only once a move has committed: a read that starts after an answer
        // sees either the count or the moved rows.
        if self.inbox.pending.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        self.writer.submit(WriteOp::Settle).await.map(|_| ())
    }
}

async fn run_postgres(pool: AnyPool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let span = tracing::debug_span!("commit", writes = batch.len());
        let answered = commit_batch(&pool, Backend::Postgres, std::mem::take(&mut batch))
            .instrument(span)
            .await;
        answer(answered);
    }
}

fn answer(answered: Committed) {
    for (reply, answer) in answered {
        let _ = reply.send(answer);
    }
}

fn fail(answered: Committed, why: &str) {
    for (reply, _) in answered {
        let _ = reply.send(Err(StoreError::Commit(why.to_string())));
    }
}

/// Times a batch that lost a deadlock or serialization race to another replica is
/// retried before its callers get the error.
const CONFLICT_RETRIES: usize = 5;

/// PostgreSQL aborted the transaction to resolve a conflict with another writer (another
/// replica): `40P01` deadlock detected, `40001` serialization failure. Retrying is safe:
/// nothing of the batch was committed.
fn lost_a_race(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

async fn commit_batch(pool: &AnyPool, backend: Backend, batch: Vec<Job>) -> Committed {
    let (replies, mut ops): (Vec<_>, Vec<_>) = batch.into_iter().map(|j| (j.reply, j.op)).unzip();
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        // Only PostgreSQL can lose a race (to another replica); SQLite's single writer
        // writes its batch once, without keeping a copy.
        let may_retry = backend == Backend::Postgres && attempt <= CONFLICT_RETRIES;
        let this = if may_retry {
            ops.clone()
        } else {
            std::mem::take(&mut ops)
        };
        match write_batch(pool, backend, this).await {
            Err(e) if may_retry && lost_a_race(&e) => {
                tracing::warn!(error = %e, attempt, "batch lost a race with another writer; retrying");
            }
            other => break other,
        }
    };
    let answers = match result {
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
    replies.into_iter().zip(answers).collect()
}

/// Writes one batch in one transaction; the answers are in the order of `ops`.
/// `Err` means nothing of the batch was committed.
///
/// SQLite: only batches that are not deployments only come here (sqlite_thread.rs writes
/// those), inside `BEGIN IMMEDIATE` .. `COMMIT`.
async fn write_batch(
    pool: &AnyPool,
    backend: Backend,
    ops: Vec<WriteOp>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let now = crate::timefmt::now();
    if backend == Backend::Postgres {
        let mut tx = pool.begin().await?;
        lock_incidents(&mut tx, &ops).await?;
        let answers = write_ops(&mut tx, backend, ops, now).await?;
        tx.commit().await?;
        return Ok(answers);
    }
    let conn = &mut pool.acquire().await?;
    let result = async {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut **conn).await?;
        let answers = write_ops(conn, backend, ops, now).await?;
        sqlx::query("COMMIT").execute(&mut **conn).await?;
        Ok(answers)
    }
    .await;
    if result.is_err() {
        // Nothing of a failed batch may stay: end its transaction if it is still open.
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut **conn).await {
            tracing::debug!(error = %e, "nothing to roll back after a failed batch");
        }
    }
    result
}

fn unanswered_are_errors(
    answers: Vec<Option<Result<WriteOutcome, StoreError>>>,
) -> Vec<Result<WriteOutcome, StoreError>> {
    answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(StoreError::Commit("write was not answered".into()))))
        .collect()
}

/// Writes `ops` inside the caller's transaction; the answers are in the order of `ops`.
async fn write_ops(
    conn: &mut AnyConnection,
    backend: Backend,
    ops: Vec<WriteOp>,
    now: Timestamp,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let mut answers: Vec<Option<Result<WriteOutcome, StoreError>>> =
        (0..ops.len()).map(|_| None).collect();
    let mut deployments = Vec::new();
    let mut incidents = Vec::new();
    let mut lead_times = Vec::new();
    let mut webhook_deliveries = Vec::new();
    let mut incident_events = Vec::new();
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
            WriteOp::IncidentEvent { source, key, event } => {
                incident_events.push((i, source, key, event))
            }
            WriteOp::Settle => answers[i] = Some(Ok(WriteOutcome::Settled)),
        }
    }
    // Deployments were validated at the edge and cannot be refused here, so they are
    // written with a few multi-row statements; a failure fails the whole batch.
    for (i, recorded) in insert_deployments(conn, backend, &deployments, now).await? {
        answers[i] = Some(Ok(WriteOutcome::Deployment(recorded)));
    }
    for (i, outcome) in record_webhook_deliveries(conn, backend, webhook_deliveries, now).await? {
        answers[i] = Some(Ok(WriteOutcome::WebhookDelivery(outcome)));
    }
    // An incident merge can be refused (a resolution before the opening): each runs in
    // its own savepoint so a refusal rolls back only itself.
    for (i, update) in incidents {
        answers[i] = Some(in_savepoint(conn, backend, update, now).await);
    }
    for (i, source, key, event) in incident_events {
        answers[i] =
            Some(incident_event_in_savepoint(conn, backend, &source, &key, &event, now).await);
    }
    // After the deployments, so a deployment and its lead time may share a batch.
    for (i, deployment_id, seconds) in lead_times {
        let outcome = set_lead_time(conn, &deployment_id, seconds).await?;
        answers[i] = Some(Ok(WriteOutcome::LeadTime(outcome)));
    }
    Ok(unanswered_are_errors(answers))
}

/// Serializes, across replicas, the writes to each incident of the batch: a merge reads the
/// stored incident (and its event times, its triage log's last entry) and writes back the
/// result, so two replicas merging the same incident at once would lose one update. A
/// transaction-scoped advisory lock per incident id, taken in sorted order (so two batches
/// never wait on each other in a cycle) before anything else, makes the second wait for
/// the first to commit and then read its result. SQLite has one writer and needs none.
async fn lock_incidents(conn: &mut AnyConnection, ops: &[WriteOp]) -> Result<(), StoreError> {
    let ids: std::collections::BTreeSet<&str> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Incident(u) => Some(u.id.as_str()),
            WriteOp::IncidentEvent { event, .. } => Some(event.incident_id.as_str()),
            _ => None,
        })
        .collect();
    for id in ids {
        // Key space 1 of the two-int form, so Pacer's locks never meet sqlx's migration lock.
        sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn in_savepoint(
    conn: &mut AnyConnection,
    backend: Backend,
    update: IncidentUpdate,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
    let result = merge_incident(conn, backend, update, now)
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
    backend: Backend,
    deployments: &[(usize, Deployment)],
    now: Timestamp,
) -> Result<Vec<(usize, Recorded)>, StoreError> {
    // The first of several deliveries of one id in the batch is the one that may insert.
    let mut first_in_batch: HashSet<&str> = HashSet::new();
    let mut candidates: Vec<&Deployment> = deployments
        .iter()
        .map(|(_, d)| d)
        .filter(|d| first_in_batch.insert(d.id.as_str()))
        .collect();
    // Inserted in id order: two replicas inserting overlapping batches then take the
    // unique-index locks in the same order, so neither waits on the other in a cycle.
    candidates.sort_by(|a, b| a.id.cmp(&b.id));

    let inserted: HashSet<String> = match backend {
        // Another replica may insert the same id at any moment, so only the insert itself
        // can say which rows it wrote (RETURNING).
        Backend::Postgres => {
            let mut inserted = HashSet::new();
            for statement in deployment_inserts(
                &candidates,
                now,
                &format!("{DEPLOYMENT_ON_CONFLICT} RETURNING id"),
            ) {
                for row in statement.query(backend).fetch_all(&mut *conn).await? {
                    inserted.insert(row.try_get("id")?);
                }
            }
            inserted
        }
        // This connection is the only writer inside the transaction (a concurrent writer
        // makes the commit fail with a busy snapshot, never a wrong answer), so the ids
        // already stored are read first, and the inserts send nothing back: returned rows
        // cross from SQLite's thread one message each, a measurable cost at tens of
        // thousands a second.
        Backend::Sqlite => {
            let stored = stored_ids(conn, &candidates).await?;
            candidates
                .iter()
                .filter(|d| !stored.contains(&d.id))
                .map(|d| d.id.clone())
                .collect()
        }
    };
    let new: Vec<&Deployment> = candidates
        .into_iter()
        .filter(|d| inserted.contains(&d.id))
        .collect();
    let outcome = outcome(deployments, &inserted.iter().map(String::as_str).collect());
    match backend {
        Backend::Postgres => {
            for statement in new_rows(&new, now, InsertMode::Returned) {
                statement.query(backend).execute(&mut *conn).await?;
            }
        }
        Backend::Sqlite => {
            script(new_rows(&new, now, InsertMode::KeepStored))?
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(outcome)
}

/// What each delivery of `deployments` gets: `Created` for the first delivery of an id in
/// `inserted`, `AlreadyRecorded` for every other.
fn outcome(
    deployments: &[(usize, Deployment)],
    inserted: &HashSet<&str>,
) -> Vec<(usize, Recorded)> {
    let mut answered: HashSet<&str> = HashSet::new();
    deployments
        .iter()
        .map(|(i, d)| {
            let created = inserted.contains(d.id.as_str()) && answered.insert(d.id.as_str());
            let recorded = if created {
                Recorded::Created
            } else {
                Recorded::AlreadyRecorded
            };
            (*i, recorded)
        })
        .collect()
}

/// How `new_rows` writes the deployments themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InsertMode {
    /// Already inserted (PostgreSQL's `RETURNING` insert): only their changes and services.
    Returned,
    /// Inserted here; an id stored already keeps its row (`ON CONFLICT DO NOTHING`).
    KeepStored,
}

/// The statements that store new deployments: the rows (unless already inserted), their
/// changes, and their services with the team of the batch's latest deployment naming one.
fn new_rows(new: &[&Deployment], now: Timestamp, mode: InsertMode) -> Vec<Statement> {
    let mut statements = Vec::new();
    match mode {
        InsertMode::Returned => {}
        InsertMode::KeepStored => {
            statements.extend(deployment_inserts(new, now, DEPLOYMENT_ON_CONFLICT));
        }
    }
    statements.extend(change_inserts(new));
    let services: Vec<_> = team_claims(new).into_iter().collect();
    statements.extend(services.chunks(MAX_BULK_PARAMS / 4).map(services_upsert));
    statements
}

/// The services of `new` deployments, one entry each (a statement may not upsert the same
/// row twice), with the batch's latest deployment naming a team, which the upsert compares
/// with the stored one.
fn team_claims<'a>(new: &[&'a Deployment]) -> BTreeMap<&'a str, TeamClaim<'a>> {
    let mut services: BTreeMap<&str, TeamClaim<'_>> = BTreeMap::new();
    for d in new {
        let entry = services.entry(d.service.as_str()).or_insert(None);
        if let Some(team) = d.team.as_deref()
            && entry.is_none_or(|(_, at, id)| (d.deployed_at, d.id.as_str()) > (at, id))
        {
            *entry = Some((team, d.deployed_at, d.id.as_str()));
        }
    }
    services
}

/// The multi-row inserts of `deployments` (each statement under the parameter limit),
/// each ending in `tail` (a conflict clause, `RETURNING`, or nothing).
fn deployment_inserts(deployments: &[&Deployment], now: Timestamp, tail: &str) -> Vec<Statement> {
    const PER_DEPLOYMENT: usize = 15;
    deployments
        .chunks(MAX_BULK_PARAMS / PER_DEPLOYMENT)
        .map(|chunk| {
            // lead_time_seconds (the 10th column) is bound as NaN for "none" and turned
            // into NULL by NULLIF: sqlx's Any driver sends a NULL f64 to PostgreSQL as a
            // float4, and the statement cached with that type then refuses a real f64 (and
            // vice versa). SQLite stores a bound NaN as NULL already. Lead times are never
            // NaN.
            // Written into one string: this runs for every batch, on the writer's path.
            let mut sql = format!("INSERT INTO deployments ({DEPLOYMENT_INSERT_COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                let first = 1 + i * PER_DEPLOYMENT;
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for n in first..first + PER_DEPLOYMENT {
                    if n > first {
                        sql.push_str(", ");
                    }
                    let _ = if n == first + 9 {
                        write!(sql, "NULLIF(${n}, 'NaN')")
                    } else {
                        write!(sql, "${n}")
                    };
                }
                sql.push(')');
            }
            sql.push(' ');
            sql.push_str(tail);
            let mut args = Vec::with_capacity(chunk.len() * PER_DEPLOYMENT);
            for d in chunk {
                args.extend([
                    Value::Text(Some(d.id.clone())),
                    Value::Text(Some(d.service.clone())),
                    Value::Text(Some(d.environment.clone())),
                    Value::Text(Some(env_key(&d.environment))),
                    Value::Text(Some(d.status.as_str().to_string())),
                    Value::Int(Some(d.deployed_at.millis())),
                    Value::Text(d.sha.clone()),
                    Value::Text(d.repo.clone()),
                    Value::Text(d.team.clone()),
                    Value::Float(d.lead_time_seconds.unwrap_or(f64::NAN)),
                    Value::Int(Some(now.millis())),
                    Value::Int(Some(i64::from(d.hotfix))),
                    Value::Int(Some(i64::from(d.rollback))),
                    Value::Text(d.branch.clone()),
                    Value::Text(labels_column(&d.labels)),
                ]);
            }
            Statement { sql, args }
        })
        .collect()
}

/// The multi-row inserts of the changes `deployments` carry.
fn change_inserts(deployments: &[&Deployment]) -> Vec<Statement> {
    const PER_CHANGE: usize = 5;
    let changes: Vec<(&Deployment, usize, &pacer_core::Change)> = deployments
        .iter()
        .flat_map(|d| d.changes.iter().enumerate().map(move |(p, c)| (*d, p, c)))
        .collect();
    changes
        .chunks(MAX_BULK_PARAMS / PER_CHANGE)
        .map(|chunk| {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * PER_CHANGE, PER_CHANGE)))
                .collect();
            let sql = format!(
                "INSERT INTO deployment_changes (deployment_id, position, service, change_id, \
                 started_at) VALUES {}",
                rows.join(", ")
            );
            let mut args = Vec::with_capacity(chunk.len() * PER_CHANGE);
            for (d, position, c) in chunk {
                args.extend([
                    Value::Text(Some(d.id.clone())),
                    Value::Int(Some(*position as i64)),
                    Value::Text(Some(d.service.clone())),
                    Value::Text(Some(c.id.clone())),
                    Value::Int(Some(c.started_at.millis())),
                ]);
            }
            Statement { sql, args }
        })
        .collect()
}

/// One SQL statement with the values of its `$1..$n`, in order.
struct Statement {
    sql: String,
    args: Vec<Value>,
}

/// A value to bind; `None` binds NULL.
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Float(f64),
}

impl Statement {
    fn query(self, backend: Backend) -> AnyQuery<'static> {
        bind_values(bulk_query(backend, self.sql), self.args)
    }
}

fn bind_values(mut q: AnyQuery<'static>, values: Vec<Value>) -> AnyQuery<'static> {
    for value in values {
        q = match value {
            Value::Text(v) => q.bind(v),
            Value::Int(v) => q.bind(v),
            Value::Float(v) => q.bind(v),
        };
    }
    q
}

/// SQLite: `statements` as one script, executed in one round trip to SQLite's thread.
/// Each statement's `$1..$n` become anonymous `?`s, and SQLite binds anonymous parameters
/// in order across the statements of a script.
fn script(statements: Vec<Statement>) -> Result<AnyQuery<'static>, StoreError> {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        let anonymous = anonymous_parameters(&statement.sql).ok_or_else(|| {
            StoreError::Commit(format!(
                "internal error: a statement of a script numbers its parameters out of order: {}",
                statement.sql
            ))
        })?;
        sql.push_str(&anonymous);
        sql.push_str(";\n");
        values.extend(statement.args);
    }
    Ok(bind_values(query(sql), values))
}

/// Remembers each new webhook delivery and inserts its deployment; a delivery already
/// remembered (earlier, or earlier in this batch) writes nothing.
async fn record_webhook_deliveries(
    conn: &mut AnyConnection,
    backend: Backend,
    deliveries: Vec<(usize, String, String, Deployment)>,
    now: Timestamp,
) -> Result<Vec<(usize, WebhookDelivery)>, StoreError> {
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let mut new = Vec::new();
    // Key order, for the same reason as deployments' id order (no lock cycles across
    // replicas); the answers keep their indices, so callers see no difference.
    let mut deliveries = deliveries;
    deliveries.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
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
    for (i, recorded) in insert_deployments(conn, backend, &new, now).await? {
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
    backend: Backend,
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
    let triage_by = update.triage_by.clone();
    let merged = update.apply(existing.as_ref())?;
    query(format!(
        "INSERT INTO incidents ({INCIDENT_UPSERT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14) \
         {INCIDENT_ON_CONFLICT}"
    ))
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
    .bind(merged.fault_class.map(|c| c.as_str()))
    .bind(merged.note.clone())
    .bind(merged.triaged_by.clone())
    .bind(merged.triaged_at.map(Timestamp::millis))
    .execute(&mut *conn)
    .await?;
    if let (Some(by), Some(old)) = (&triage_by, &existing) {
        log_triage(conn, by, old, &merged).await?;
    }
    if let Some(service) = &merged.service {
        upsert_services(conn, backend, &[(service.as_str(), None)]).await?;
    }
    Ok((merged, recorded))
}

/// Which of `deployments` are already stored, by id (SQLite). With `begin`, the same
/// round trip to SQLite's thread begins the transaction first.
async fn stored_ids(
    conn: &mut AnyConnection,
    deployments: &[&Deployment],
) -> Result<HashSet<String>, StoreError> {
    if deployments.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT id FROM deployments WHERE id IN ({})",
        vec!["?"; deployments.len()].join(", ")
    );
    let mut q = query(sql);
    for d in deployments {
        q = q.bind(d.id.clone());
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok(row.try_get("id")?))
        .collect()
}

/// Records services, each with the team of its latest deployment naming one (latest by
/// deployed_at, then id, so delivery order never matters). Names must be distinct.
async fn upsert_services(
    conn: &mut AnyConnection,
    backend: Backend,
    services: &[(&str, TeamClaim<'_>)],
) -> Result<(), StoreError> {
    services_upsert(services)
        .query(backend)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn services_upsert(services: &[(&str, TeamClaim<'_>)]) -> Statement {
    let rows: Vec<String> = (0..services.len())
        .map(|i| format!("({})", placeholders(1 + 4 * i, 4)))
        .collect();
    let sql = format!(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) VALUES {} \
         {SERVICES_ON_CONFLICT}",
        rows.join(", ")
    );
    let mut args = Vec::with_capacity(services.len() * 4);
    for (name, team) in services {
        args.extend([
            Value::Text(Some(name.to_string())),
            Value::Text(team.map(|(t, _, _)| t.to_string())),
            Value::Int(team.map(|(_, at, _)| at.millis())),
            Value::Text(team.map(|(_, _, id)| id.to_string())),
        ]);
    }
    Statement { sql, args }
}

/// An incident-tool delivery in its own savepoint: a refused merge rolls back its delivery
/// row too, so a corrected redelivery is not taken for a replay.
async fn incident_event_in_savepoint(
    conn: &mut AnyConnection,
    backend: Backend,
    source: &str,
    key: &str,
    event: &IncidentEvent,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    sqlx::query("SAVEPOINT incident_event")
        .execute(&mut *conn)
        .await?;
    let result = record_incident_event(conn, backend, source, key, event, now)
        .await
        .map(WriteOutcome::IncidentEvent);
    if result.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT incident_event")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT incident_event")
        .execute(&mut *conn)
        .await?;
    result
}

/// Dedupes the delivery, then merges the parts of the event that are newer than what
/// earlier events set (per part: state, severity, service), through the same merge as API
/// deliveries. Triage fields are left absent, so they keep their stored values.
async fn record_incident_event(
    conn: &mut AnyConnection,
    backend: Backend,
    source: &str,
    key: &str,
    event: &IncidentEvent,
    now: Timestamp,
) -> Result<IncidentDelivery, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO incident_deliveries (source, delivery_key, incident_id, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (source, delivery_key) DO NOTHING",
    )
    .bind(source.to_string())
    .bind(key.to_string())
    .bind(event.incident_id.clone())
    .bind(now.millis())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        let incident_id: String = sqlx::query(
            "SELECT incident_id FROM incident_deliveries WHERE source = $1 AND delivery_key = $2",
        )
        .bind(source.to_string())
        .bind(key.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get("incident_id")?;
        return Ok(IncidentDelivery::AlreadyProcessed { incident_id });
    }
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
    let existing = query(sql)
        .bind(event.incident_id.clone())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| incident_from_row(&r))
        .transpose()?;
    let seen = sqlx::query(
        "SELECT state_at, severity_at, service_at FROM incident_event_state WHERE incident_id = $1",
    )
    .bind(event.incident_id.clone())
    .fetch_optional(&mut *conn)
    .await?;
    let seen_at = |column: &str| -> Result<Option<i64>, StoreError> {
        Ok(match &seen {
            Some(row) => row.try_get::<Option<i64>, _>(column)?,
            None => None,
        })
    };
    let at = event.occurred_at.millis();
    // Equal times: the later delivery wins, as it would for the API.
    let newer = |stored: Option<i64>| stored.is_none_or(|s| at >= s);
    let (state_at, severity_at, service_at) = (
        seen_at("state_at")?,
        seen_at("severity_at")?,
        seen_at("service_at")?,
    );
    let apply_state = event.state.is_some() && newer(state_at);
    let apply_severity = event.severity.is_some() && newer(severity_at);
    let apply_service = event.service.is_some() && newer(service_at);
    let mut update = IncidentUpdate {
        id: event.incident_id.clone(),
        opened_at: event.opened_at,
        ..IncidentUpdate::default()
    };
    if existing.is_none() {
        update.opened_at = Some(event.opened_at.unwrap_or(event.occurred_at));
        update.environment = Some(event.environment.clone());
    }
    if apply_state {
        update.resolved_at = Some(match event.state {
            Some(IncidentState::Resolved { at, exact: false }) => {
                Some(existing.as_ref().and_then(|i| i.resolved_at).unwrap_or(at))
            }
            Some(IncidentState::Resolved { at, exact: true }) => Some(at),
            Some(IncidentState::Open) | None => None,
        });
    }
    if apply_severity {
        update.severity = Some(event.severity.clone());
    }
    if apply_service {
        update.service = Some(event.service.clone());
    }
    let (incident, recorded) = merge_incident(conn, backend, update, now).await?;
    let bump = |applied: bool, stored: Option<i64>| if applied { Some(at) } else { stored };
    sqlx::query(
        "INSERT INTO incident_event_state (incident_id, state_at, severity_at, service_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id) DO UPDATE SET \
         state_at = excluded.state_at, severity_at = excluded.severity_at, \
         service_at = excluded.service_at",
    )
    .bind(event.incident_id.clone())
    .bind(bump(apply_state, state_at))
    .bind(bump(apply_severity, severity_at))
    .bind(bump(apply_service, service_at))
    .execute(&mut *conn)
    .await?;
    Ok(IncidentDelivery::Processed {
        incident,
        recorded,
        stale: event.state.is_some() && !apply_state,
    })
}

/// Appends a person's triage to the incident's audit log, in the merge's transaction: who,
/// when, and each field it changed (old and new). A triage that changed nothing is logged
/// only when it is the first by a person (it confirms what a tool set, with no changes);
/// sent again, it is a re-delivery and is not logged.
async fn log_triage(
    conn: &mut AnyConnection,
    by: &pacer_core::TriageBy,
    old: &Incident,
    new: &Incident,
) -> Result<(), StoreError> {
    let changes = pacer_core::event::triage_changes(old, new);
    if changes.is_empty() && old.human_triaged() {
        return Ok(());
    }
    let json: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|c| {
            (
                c.field.to_string(),
                serde_json::json!({"old": c.old, "new": c.new}),
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO incident_triage_log (incident_id, seq, at, actor, changes) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM incident_triage_log \
         WHERE incident_id = $1",
    )
    .bind(new.id.clone())
    .bind(by.at.millis())
    .bind(by.actor.clone())
    .bind(serde_json::Value::Object(json).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
