//! SQLite's writer: one OS thread owns the write connection and commits the batches.
//!
//! A batch of deployments only (the ingest path: the API, the push endpoint) is written on
//! a rusqlite connection the thread owns, with three prepared single-row statements. Through
//! sqlx, every statement crossed to sqlx's own SQLite thread and back (a round trip that
//! waits for a core on a machine busy serving the requests), its writer task waited in the
//! runtime's queue behind the requests to start the next batch, and its multi-row inserts
//! were new SQL text for every batch size, built, rewritten and bound value by value.
//! Any other batch (incidents, lead times, webhook deliveries) takes the shared sqlx path
//! (`commit_batch`), driven from this thread, so that SQLite still has one writer at a time.
//! A second thread checkpoints the write-ahead log (`checkpoint_wal`).

use super::{
    Committed, Job, MAX_BATCH, WriteOp, WriteOutcome, answer, commit_batch, fail, team_claims,
};
use crate::store::sql::{
    Backend, DEPLOYMENT_INSERT_COLUMNS, DEPLOYMENT_ON_CONFLICT, SERVICES_ON_CONFLICT, env_key,
    labels_column,
};
use crate::store::{Recorded, StoreError};
use pacer_core::{Deployment, Timestamp};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use sqlx::AnyPool;
use std::sync::LazyLock;
use tokio::sync::mpsc;

/// Opens a rusqlite connection (the writer's, the checkpoint thread's, an event reader's:
/// store/read.rs) to the database `sqlx` has already created and migrated, and runs
/// `pragmas` on it (the settings every Pacer connection gets, and the connection's own).
pub(in crate::store) fn open(
    path: &std::path::Path,
    pragmas: &[&str],
) -> Result<Connection, StoreError> {
    let failed = |e: rusqlite::Error| {
        StoreError::Commit(format!(
            "cannot open a SQLite connection on {}: {e}",
            path.display()
        ))
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    for pragma in pragmas {
        // `journal_mode` answers with a row; the others with none.
        conn.query_row(pragma, [], |_| Ok(()))
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(()),
                e => Err(e),
            })
            .map_err(failed)?;
    }
    Ok(conn)
}

/// The thread's loop: takes what has queued up (at most `MAX_BATCH`), commits it, makes it
/// durable (`wal`: the write-ahead log to sync, when the durability asks for it), answers,
/// and tells the checkpoint thread; until every `Writer` handle is gone.
///
/// The log is synced here, not on a thread of its own: a sync thread was one more hand-off
/// per batch on two busy cores, and alternating runs measured the same API rate and 5-12 %
/// more pushes per second without it (docs/benchmarks.md).
pub(super) fn run(
    mut conn: Connection,
    pool: AnyPool,
    runtime: tokio::runtime::Handle,
    mut jobs: mpsc::Receiver<Job>,
    wal: Option<std::path::PathBuf>,
    checkpoint: std::sync::mpsc::SyncSender<()>,
) {
    // Reused from batch to batch: it grows to the largest batch seen, once.
    let mut batch = Vec::new();
    let mut wal_file: Option<std::fs::File> = None;
    while let Some(job) = jobs.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!("commit", writes = batch.len());
        let _entered = span.enter();
        let answered = if batch.iter().all(|j| matches!(j.op, WriteOp::Deployment(_))) {
            write_deployments(&mut conn, batch.drain(..))
        } else {
            // The sqlx connection is taken from the pool for this batch and given back
            // inside the runtime.
            runtime.block_on(commit_batch(
                &pool,
                Backend::Sqlite,
                std::mem::take(&mut batch),
            ))
        };
        match wal.as_deref().map(|path| sync(path, &mut wal_file)) {
            None | Some(Ok(())) => answer(answered),
            Some(Err(e)) => {
                tracing::error!(error = %e, "cannot sync the write-ahead log");
                let why = format!(
                    "the write was committed but could not be made durable ({e}); \
                     retry it (the same id is recorded once)"
                );
                fail(answered, &why);
            }
        }
        // Full: a pass is already due, and it will see this commit too.
        let _ = checkpoint.try_send(());
    }
}

/// `fdatasync` of the write-ahead log at `path`, opened on first use (the log exists once
/// the first batch has committed).
fn sync(path: &std::path::Path, file: &mut Option<std::fs::File>) -> std::io::Result<()> {
    match file {
        Some(f) => f.sync_data(),
        None => {
            let opened = std::fs::File::open(path)?;
            opened.sync_data()?;
            *file = Some(opened);
            Ok(())
        }
    }
}

/// Least time between two checkpoint passes: pages that many commits rewrite (index leaves,
/// the tails of the tables) are copied once per pass, not once per commit.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// The checkpoint thread: after commits, copies them from the write-ahead log into the
/// database with PASSIVE checkpoints, which neither wait for nor block the writer or the
/// readers.
///
/// Inside a commit (SQLite's automatic checkpoint), a checkpoint of 2,048 pages stalled the
/// writer for ~12 ms, 20-30 times a second at 64 API clients, and every caller waited (API
/// p99 27 ms). The writer keeps its automatic checkpoint as the way the log is started
/// over: by then this thread has copied nearly everything, so it has little left to do.
pub(super) fn checkpoint_wal(conn: Connection, committed: std::sync::mpsc::Receiver<()>) {
    while committed.recv().is_ok() {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "background checkpoint did not run");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

fn write_deployments(conn: &mut Connection, batch: impl Iterator<Item = Job>) -> Committed {
    let (replies, deployments): (Vec<_>, Vec<_>) = batch
        .map(|job| match job.op {
            WriteOp::Deployment(d) => (job.reply, d),
            _ => unreachable!("only batches of deployments come here"),
        })
        .unzip();
    let answers: Vec<_> = match insert(conn, &deployments, crate::timefmt::now()) {
        Ok(recorded) => recorded
            .into_iter()
            .map(|r| Ok(WriteOutcome::Deployment(r)))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "batch failed; none of its writes was stored");
            let message = format!("database error: {e}");
            replies
                .iter()
                .map(|_| Err(StoreError::Commit(message.clone())))
                .collect()
        }
    };
    replies.into_iter().zip(answers).collect()
}

/// The statements of `insert`, written once (they are the keys of the connection's
/// prepared-statement cache).
static INSERT_DEPLOYMENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO deployments ({DEPLOYMENT_INSERT_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
         {DEPLOYMENT_ON_CONFLICT}"
    )
});
static UPSERT_SERVICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) \
         VALUES (?1, ?2, ?3, ?4) {SERVICES_ON_CONFLICT}"
    )
});

/// Inserts `deployments` and their changes in one transaction, and claims their services'
/// teams; a known id (stored, or earlier in the batch) keeps its first recording. `Err`
/// means nothing was committed (the transaction rolls back when dropped).
fn insert(
    conn: &mut Connection,
    deployments: &[Deployment],
    now: Timestamp,
) -> rusqlite::Result<Vec<Recorded>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut recorded = Vec::with_capacity(deployments.len());
    let mut new = Vec::with_capacity(deployments.len());
    {
        let mut deployment = tx.prepare_cached(&INSERT_DEPLOYMENT)?;
        let mut change = tx.prepare_cached(
            "INSERT INTO deployment_changes \
             (deployment_id, position, service, change_id, started_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for d in deployments {
            let inserted = deployment.execute(params![
                d.id,
                d.service,
                d.environment,
                env_key(&d.environment),
                d.status.as_str(),
                d.deployed_at.millis(),
                d.sha,
                d.repo,
                d.team,
                d.lead_time_seconds,
                now.millis(),
                i64::from(d.hotfix),
                i64::from(d.rollback),
                d.branch,
                labels_column(&d.labels),
            ])? == 1;
            if inserted {
                for (position, c) in d.changes.iter().enumerate() {
                    change.execute(params![
                        d.id,
                        position as i64,
                        d.service,
                        c.id,
                        c.started_at.millis()
                    ])?;
                }
                new.push(d);
            }
            recorded.push(if inserted {
                Recorded::Created
            } else {
                Recorded::AlreadyRecorded
            });
        }
        let mut service = tx.prepare_cached(&UPSERT_SERVICE)?;
        for (name, team) in team_claims(&new) {
            service.execute(params![
                name,
                team.map(|(t, _, _)| t),
                team.map(|(_, at, _)| at.millis()),
                team.map(|(_, _, id)| id),
            ])?;
        }
    }
    tx.commit()?;
    Ok(recorded)
}
