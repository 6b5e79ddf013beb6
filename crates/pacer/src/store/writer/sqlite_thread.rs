//! SQLite's writer: one OS thread owns the write connection and commits the batches.
//!
//! A batch of deployments only (the ingest path: the API, the push endpoint) is written on
//! a rusqlite connection the thread owns, with prepared single-row statements, into the
//! inbox (migration 0010): two small tables whose new rows go at their ends. The three
//! indexes that begin with the service (by time, by sha, the changes by change id) take
//! one leaf page at a random place each per deployment; written 38 at a time (a commit at
//! 64 clients), that was 110 of a commit's 137 pages. The writer moves the inbox into
//! `deployments` and `deployment_changes`: in short steps between batches once `MERGE_AT`
//! deployments wait there (`Moving`), and all at once (`merge_inbox`) before any other kind
//! of batch and when an event read asks for it (`WriteOp::Settle`; the readers ask whenever
//! the inbox is not empty). Thousands at a time, in service order, many of a move's rows
//! share a leaf. Through
//! sqlx, every statement crossed to sqlx's own SQLite thread and back (a round trip that
//! waits for a core on a machine busy serving the requests), its writer task waited in the
//! runtime's queue behind the requests to start the next batch, and its multi-row inserts
//! were new SQL text for every batch size, built, rewritten and bound value by value.
//! Any other batch (incidents, lead times, webhook deliveries) takes the shared sqlx path
//! (`commit_batch`), driven from this thread, so that SQLite still has one writer at a time.
//! A second thread checkpoints the write-ahead log (`checkpoint_wal`).

use super::{
    Committed, Inbox, Job, MAX_BATCH, WriteOp, WriteOutcome, answer, commit_batch, fail,
    team_claims,
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
use std::sync::atomic::Ordering;
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
    inbox: &Inbox,
) {
    // Reused from batch to batch: it grows to the largest batch seen, once.
    let mut batch = Vec::new();
    let mut moving: Option<Moving> = None;
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
        let (settles, writes): (Vec<Job>, Vec<Job>) = batch
            .drain(..)
            .partition(|j| matches!(j.op, WriteOp::Settle));
        let mut answered = if writes.is_empty() {
            Vec::new()
        } else if writes
            .iter()
            .all(|j| matches!(j.op, WriteOp::Deployment(_)))
        {
            write_deployments(&mut conn, writes.into_iter(), inbox)
        } else {
            // Lead times, incidents and webhook deliveries may name a deployment that is
            // still in the inbox.
            match move_inbox(&mut conn, inbox, &mut moving) {
                // The sqlx connection is taken from the pool for this batch and given
                // back inside the runtime.
                Ok(()) => runtime.block_on(commit_batch(&pool, Backend::Sqlite, writes)),
                Err(e) => refuse(writes, &e),
            }
        };
        if !settles.is_empty() {
            match move_inbox(&mut conn, inbox, &mut moving) {
                Ok(()) => answered.extend(
                    settles
                        .into_iter()
                        .map(|j| (j.reply, Ok(WriteOutcome::Settled))),
                ),
                Err(e) => answered.extend(refuse(settles, &e)),
            }
        }
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
        // After the answers, so that their senders never wait for it; one step per
        // batch, so that no batch waits for a whole move either. A step's commit becomes
        // durable with the next batch's sync; lost, it is redone (`merge_inbox`).
        if let Err(e) = move_a_step(&mut conn, inbox, &mut moving) {
            tracing::error!(error = %e, "cannot move the inbox; it is moved again later");
            moving = None;
        }
        // Full: a pass is already due, and it will see this commit too.
        let _ = checkpoint.try_send(());
    }
}

/// Deployments in the inbox at which the writer starts moving them in steps (`Moving`).
/// The more deployments a service has in one move, the more of them share each leaf of
/// the indexes that begin with the service (docs/benchmarks.md).
const MERGE_AT: usize = 16384;
/// Least deployments a step moves (whole services): a step's commit is what one batch
/// waits for, so it stays short.
const STEP_ROWS: usize = 512;

/// A move of the inbox in steps, between the batches, of the inbox as it was when the
/// move started (rowids up to `bound`). Each step is one short transaction: one that held
/// the whole move (16,384 deployments) took 120-460 ms, and every request waited for it.
///
/// 1. `Copy`: the rows, `COPY_ROWS` rowids a step, into temporary tables (in memory)
///    indexed by service, without the ids `deployments` already has.
/// 2. `Move`: into `deployments` and `deployment_changes`, whole services of at least
///    `STEP_ROWS` deployments a step, in service order.
/// 3. `Delete`: out of the inbox, `COPY_ROWS` rowids a step.
///
/// Until its rows are deleted, a moved deployment is in both places: the readers never
/// look in the middle of a move (they ask for `merge_inbox`, which ends it), a new
/// deployment's id is looked up in `deployments` first, and a move redone after a stop
/// skips ids already moved.
struct Moving {
    /// The inbox's rowids when the move started: the copy and the delete walk them.
    first: i64,
    bound: i64,
    phase: Phase,
    started: std::time::Instant,
}

enum Phase {
    Copy { next: i64 },
    Move(std::collections::VecDeque<(String, String)>),
    Delete { next: i64 },
}

/// Rowids a `Copy` or `Delete` step covers.
const COPY_ROWS: i64 = 1024;

/// Starts a move when `MERGE_AT` deployments wait, else does the next step of the move
/// under way.
fn move_a_step(
    conn: &mut Connection,
    inbox: &Inbox,
    moving: &mut Option<Moving>,
) -> rusqlite::Result<()> {
    let Some(m) = moving else {
        if inbox.pending.load(Ordering::Relaxed) >= MERGE_AT {
            *moving = start_moving(conn)?;
        }
        return Ok(());
    };
    match &mut m.phase {
        Phase::Copy { next } => {
            let last = (*next + COPY_ROWS - 1).min(m.bound);
            let tx = conn.transaction()?;
            tx.prepare_cached(
                "INSERT INTO temp.moving SELECT * FROM deployment_inbox \
                 WHERE rowid BETWEEN ?1 AND ?2 AND NOT EXISTS \
                   (SELECT 1 FROM deployments d WHERE d.id = deployment_inbox.id)",
            )?
            .execute([*next, last])?;
            tx.prepare_cached(
                "INSERT INTO temp.moving_changes SELECT c.* FROM deployment_inbox i \
                 JOIN deployment_change_inbox c ON c.deployment_id = i.id \
                 WHERE i.rowid BETWEEN ?1 AND ?2 AND NOT EXISTS \
                   (SELECT 1 FROM deployments d WHERE d.id = i.id)",
            )?
            .execute([*next, last])?;
            tx.commit()?;
            *next = last + 1;
            if *next > m.bound {
                m.phase = Phase::Move(service_steps(conn)?);
            }
        }
        Phase::Move(steps) => {
            let Some((first, last)) = steps.pop_front() else {
                // New rows get rowids past `bound`, and only a whole move (which ends this
                // one) deletes: the rows to delete are still `first..=bound`.
                m.phase = Phase::Delete { next: m.first };
                return Ok(());
            };
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(&MOVE_DEPLOYMENTS)?
                .execute([&first, &last])?;
            tx.prepare_cached(&MOVE_CHANGES)?.execute([&first, &last])?;
            tx.commit()?;
        }
        Phase::Delete { next } => {
            let last = (*next + COPY_ROWS - 1).min(m.bound);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "DELETE FROM deployment_change_inbox WHERE deployment_id IN \
                 (SELECT id FROM deployment_inbox WHERE rowid BETWEEN ?1 AND ?2)",
            )?
            .execute([*next, last])?;
            let deleted = tx
                .prepare_cached("DELETE FROM deployment_inbox WHERE rowid BETWEEN ?1 AND ?2")?
                .execute([*next, last])?;
            tx.commit()?;
            let _ = inbox
                .pending
                .fetch_update(Ordering::Release, Ordering::Relaxed, |n| {
                    Some(n.saturating_sub(deleted))
                });
            *next = last + 1;
            if *next > m.bound {
                tracing::debug!(
                    ms = m.started.elapsed().as_millis() as u64,
                    "inbox moved in steps"
                );
                drop_moving(conn);
                *moving = None;
            }
        }
    }
    Ok(())
}

/// The columns of a change row, in `deployment_changes` and `deployment_change_inbox`.
const CHANGE_COLUMNS: &str = "deployment_id, position, service, change_id, started_at";

static MOVE_CHANGES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT OR IGNORE INTO deployment_changes ({CHANGE_COLUMNS}) \
         SELECT {CHANGE_COLUMNS} FROM temp.moving_changes \
         WHERE service BETWEEN ?1 AND ?2 ORDER BY service, change_id"
    )
});

static MOVE_DEPLOYMENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT OR IGNORE INTO deployments ({DEPLOYMENT_INSERT_COLUMNS}) \
         SELECT {DEPLOYMENT_INSERT_COLUMNS} FROM temp.moving \
         WHERE service BETWEEN ?1 AND ?2 ORDER BY service, deployed_at, id"
    )
});

/// A move of the inbox as it is now, starting with its copy (empty temporary tables
/// shaped like the inbox's). `None`: the inbox is empty.
fn start_moving(conn: &mut Connection) -> rusqlite::Result<Option<Moving>> {
    let (first, bound): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT min(rowid), max(rowid) FROM deployment_inbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(first), Some(bound)) = (first, bound) else {
        return Ok(None);
    };
    drop_moving(conn);
    conn.execute_batch(
        "CREATE TEMP TABLE moving AS SELECT * FROM deployment_inbox WHERE 0; \
         CREATE INDEX temp.moving_service ON moving (service, deployed_at, id); \
         CREATE TEMP TABLE moving_changes AS SELECT * FROM deployment_change_inbox WHERE 0; \
         CREATE INDEX temp.moving_changes_service ON moving_changes (service, change_id);",
    )?;
    Ok(Some(Moving {
        first,
        bound,
        phase: Phase::Copy { next: first },
        started: std::time::Instant::now(),
    }))
}

/// The copied deployments' services in ranges of at least `STEP_ROWS` deployments.
fn service_steps(
    conn: &Connection,
) -> rusqlite::Result<std::collections::VecDeque<(String, String)>> {
    let mut steps = std::collections::VecDeque::new();
    let mut stmt = conn
        .prepare("SELECT service, count(*) FROM temp.moving GROUP BY service ORDER BY service")?;
    let mut rows = stmt.query([])?;
    let mut open: Option<(String, usize)> = None;
    let mut last = String::new();
    while let Some(row) = rows.next()? {
        let service: String = row.get(0)?;
        let count: i64 = row.get(1)?;
        let (first, n) = open.get_or_insert_with(|| (service.clone(), 0));
        *n += usize::try_from(count).unwrap_or(0);
        if *n >= STEP_ROWS {
            steps.push_back((std::mem::take(first), service.clone()));
            open = None;
        }
        last = service;
    }
    if let Some((first, _)) = open {
        steps.push_back((first, last));
    }
    Ok(steps)
}

fn drop_moving(conn: &Connection) {
    if let Err(e) = conn.execute_batch(
        "DROP TABLE IF EXISTS temp.moving; DROP TABLE IF EXISTS temp.moving_changes;",
    ) {
        tracing::debug!(error = %e, "cannot drop the tables of a move");
    }
}

/// Every job answered with the error `e` (nothing of theirs was written).
fn refuse(jobs: Vec<Job>, e: &rusqlite::Error) -> Committed {
    tracing::error!(error = %e, "cannot move the inbox into the event tables");
    let message = format!("database error: cannot move the inbox into the event tables: {e}");
    jobs.into_iter()
        .map(|j| (j.reply, Err(StoreError::Commit(message.clone()))))
        .collect()
}

/// `merge_inbox` for the writer, which knows how many wait: nothing to do when none. A
/// move under way in steps is finished by it.
fn move_inbox(
    conn: &mut Connection,
    inbox: &Inbox,
    moving: &mut Option<Moving>,
) -> rusqlite::Result<()> {
    if inbox.pending.load(Ordering::Relaxed) == 0 {
        return Ok(());
    }
    merge_inbox(conn)?;
    if moving.take().is_some() {
        drop_moving(conn);
    }
    inbox.pending.store(0, Ordering::Release);
    Ok(())
}

/// Moves the inbox into `deployments` and `deployment_changes`, in one transaction: a
/// deployment is in one place or the other, never both or neither. Rows go in by service,
/// so each leaf of the indexes that begin with it is visited once. An id already in
/// `deployments` keeps its first recording: the writer never puts one in the inbox, but
/// `pacer import` (another process) may have stored it since.
pub(in crate::store) fn merge_inbox(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&MERGE_INBOX)?;
    tx.commit()
}

static MERGE_INBOX: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM deployment_change_inbox WHERE EXISTS \
           (SELECT 1 FROM deployments d WHERE d.id = deployment_change_inbox.deployment_id); \
         DELETE FROM deployment_inbox WHERE EXISTS \
           (SELECT 1 FROM deployments d WHERE d.id = deployment_inbox.id); \
         INSERT INTO deployments ({DEPLOYMENT_INSERT_COLUMNS}) \
           SELECT {DEPLOYMENT_INSERT_COLUMNS} FROM deployment_inbox \
           ORDER BY service, deployed_at, id; \
         INSERT INTO deployment_changes ({CHANGE_COLUMNS}) \
           SELECT {CHANGE_COLUMNS} FROM deployment_change_inbox ORDER BY service, change_id; \
         DELETE FROM deployment_inbox; \
         DELETE FROM deployment_change_inbox;"
    )
});

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

fn write_deployments(
    conn: &mut Connection,
    batch: impl Iterator<Item = Job>,
    inbox: &Inbox,
) -> Committed {
    let (replies, deployments): (Vec<_>, Vec<_>) = batch
        .map(|job| match job.op {
            WriteOp::Deployment(d) => (job.reply, d),
            _ => unreachable!("only batches of deployments come here"),
        })
        .unzip();
    let answers: Vec<_> = match insert(conn, &deployments, crate::timefmt::now(), inbox) {
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
        "INSERT INTO deployment_inbox ({DEPLOYMENT_INSERT_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
         {DEPLOYMENT_ON_CONFLICT}"
    )
});
static INSERT_CHANGE: LazyLock<String> = LazyLock::new(|| {
    format!("INSERT INTO deployment_change_inbox ({CHANGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)")
});
static UPSERT_SERVICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) \
         VALUES (?1, ?2, ?3, ?4) {SERVICES_ON_CONFLICT}"
    )
});

/// Inserts `deployments` and their changes into the inbox in one transaction, and claims
/// their services' teams; a known id (stored, in the inbox, or earlier in the batch) keeps
/// its first recording. `Err` means nothing was committed (the transaction rolls back when
/// dropped). The new deployments are counted into `inbox` before the answers go out.
fn insert(
    conn: &mut Connection,
    deployments: &[Deployment],
    now: Timestamp,
    inbox: &Inbox,
) -> rusqlite::Result<Vec<Recorded>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut recorded = Vec::with_capacity(deployments.len());
    let mut new = Vec::with_capacity(deployments.len());
    {
        let mut stored = tx.prepare_cached("SELECT 1 FROM deployments WHERE id = ?1")?;
        let mut deployment = tx.prepare_cached(&INSERT_DEPLOYMENT)?;
        let mut change = tx.prepare_cached(&INSERT_CHANGE)?;
        for d in deployments {
            let inserted = !stored.exists([&d.id])?
                && deployment.execute(params![
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
    inbox.pending.fetch_add(new.len(), Ordering::Release);
    Ok(recorded)
}
