//! The bulk write path of `pacer import`: many deployments and incident deliveries in one
//! transaction, with exactly the rows and semantics of the normal write path (writer.rs).
//!
//! The normal path binds every value of a multi-row statement; through sqlx's `Any` driver
//! that costs more than SQLite's own insert. Here each table gets **one** statement per
//! batch whose only parameter is the whole batch as JSON text (an array of row arrays),
//! expanded by the database: `jsonb_each($1)` on SQLite, `json_array_elements($1::json)` on
//! PostgreSQL. What is written, per table:
//!
//! - `deployments`: `INSERT .. ON CONFLICT (id) DO NOTHING`: a known id keeps its first
//!   recording (also within the batch: the first of several is the one sent). Which ones
//!   were inserted: on PostgreSQL `RETURNING id` (another replica may insert the same ids
//!   meanwhile); on SQLite the ids already stored are read first (the batch holds the
//!   write lock, and returning a row per insert through the driver costs more);
//! - `deployment_changes`: the changes of the deployments that were inserted;
//! - `services`: the upsert of writer.rs (the team of the latest deployment naming one, by
//!   `(deployed_at, id)`), for the inserted deployments and every incident's service;
//! - `incidents`: the stored rows of the batch's ids are read, each delivery is merged in
//!   order with `IncidentUpdate::apply` (the API's merge), and the rows that changed are
//!   upserted; a delivery that changes nothing writes nothing. On PostgreSQL the batch
//!   first takes the writer's advisory lock of each incident id, in the same order, so a
//!   server replica merging the same incident waits instead of losing an update.
//!
//! A refused merge (`StoreError::Invalid`) rolls the whole batch back. The path has its own
//! connection ([`Bulk`]), and on SQLite the transaction starts with `BEGIN IMMEDIATE`, so a
//! running server's writer waits for it (busy_timeout) rather than failing it.

use super::sql::{
    Backend, DEPLOYMENT_INSERT_COLUMNS, DEPLOYMENT_ON_CONFLICT, INCIDENT_COLUMNS,
    INCIDENT_ON_CONFLICT, INCIDENT_UPSERT_COLUMNS, SERVICES_ON_CONFLICT, env_key,
    incident_from_row, labels_column, query,
};
use super::{ImportCounts, StoreError};
use pacer_core::{Deployment, Incident, IncidentUpdate, Timestamp};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A deployment's claim that its service belongs to a team: (team, deployed_at, deployment id).
type TeamClaim<'a> = Option<(&'a str, Timestamp, &'a str)>;

/// The bulk path's own connection, opened on first use from the read pool's options and
/// detached from it: one connection keeps one page cache across batches (a pooled one
/// would alternate between connections, and in WAL mode a connection whose cache another
/// connection's commit made stale starts its next transaction with an empty cache).
pub(super) struct Bulk {
    pool: AnyPool,
    backend: Backend,
    durable: bool,
    conn: tokio::sync::Mutex<Option<AnyConnection>>,
}

impl Bulk {
    /// `durable`: on SQLite, each batch's commit waits for the disk (`synchronous = FULL`
    /// on the import's connection; the store's connections run NORMAL because its writer
    /// syncs the write-ahead log itself, which the import does not use).
    pub(super) fn new(pool: AnyPool, backend: Backend, durable: bool) -> Bulk {
        Bulk {
            pool,
            backend,
            durable,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// Writes one batch in one transaction (see the module documentation).
    pub(super) async fn import_batch(
        &self,
        deployments: &[Deployment],
        incidents: &[IncidentUpdate],
    ) -> Result<ImportCounts, StoreError> {
        let backend = self.backend;
        let mut slot = self.conn.lock().await;
        if slot.is_none() {
            let mut conn = self.pool.acquire().await?.detach();
            if backend == Backend::Sqlite {
                // A batch touches index pages all over the file: a page cache of 256 MiB
                // at most (the default is 2 MiB) keeps them instead of reading them back
                // from the OS.
                sqlx::query("PRAGMA cache_size = -262144")
                    .execute(&mut conn)
                    .await?;
                if self.durable {
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut conn)
                        .await?;
                }
                defer_indexes_of_an_empty_store(&mut conn).await?;
            }
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("connected above");
        if backend == Backend::Postgres {
            return write_batch(conn, backend, deployments, incidents).await;
        }
        for pragma in SQLITE_IMPORT_PRAGMAS {
            sqlx::query(*pragma).execute(&mut *conn).await?;
        }
        let result = write_batch(conn, backend, deployments, incidents).await;
        for pragma in SQLITE_RESTORE_PRAGMAS {
            sqlx::query(*pragma).execute(&mut *conn).await?;
        }
        result
    }

    /// After the last batch: on SQLite, copies the WAL the import left (up to the 1 GiB of
    /// `wal_autocheckpoint` below) into the database file and truncates it, so that the
    /// next writer (a server) does not pay for that checkpoint; then closes the connection.
    pub(super) async fn done(&self) -> Result<(), StoreError> {
        let Some(mut conn) = self.conn.lock().await.take() else {
            return Ok(());
        };
        if self.backend == Backend::Sqlite {
            build_deferred_indexes(&mut conn).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
        }
        sqlx::Connection::close(conn).await?;
        Ok(())
    }
}

/// The tables whose secondary indexes an import into an empty store builds at its end.
const DEFERRABLE_TABLES: &str = "'deployments', 'deployment_changes', 'incidents'";

/// SQLite, at an import's first batch: when the store holds no deployment and no incident
/// (a history loaded into a new store), drops the secondary indexes of the event tables
/// and remembers them in `deferred_indexes`, in one transaction. Each row inserted then
/// writes its table and its primary key (which still dedupes ids) but not four more
/// B-trees keyed all over the file: at 10^7 events those random page writes, rewritten by
/// every batch and copied again by every checkpoint, were most of the import's time
/// (docs/import.md). [`build_deferred_indexes`] builds them again, each by one sort.
async fn defer_indexes_of_an_empty_store(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let deferred = async {
        let empty = sqlx::query(
            "SELECT NOT EXISTS (SELECT 1 FROM deployments) \
             AND NOT EXISTS (SELECT 1 FROM incidents) AS empty",
        )
        .fetch_one(&mut *conn)
        .await?
        .try_get::<i64, _>("empty")?
            == 1;
        if !empty {
            return Ok(Vec::new());
        }
        let indexes: Vec<(String, String)> = query(format!(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ({DEFERRABLE_TABLES}) ORDER BY name"
        ))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("sql")?)))
        .collect::<Result<_, StoreError>>()?;
        for (name, sql) in &indexes {
            sqlx::query("INSERT INTO deferred_indexes (name, sql) VALUES ($1, $2)")
                .bind(name.clone())
                .bind(sql.clone())
                .execute(&mut *conn)
                .await?;
            query(format!("DROP INDEX \"{name}\""))
                .execute(&mut *conn)
                .await?;
        }
        Ok::<_, StoreError>(indexes)
    }
    .await;
    match deferred {
        Ok(indexes) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            if !indexes.is_empty() {
                tracing::info!(
                    indexes = indexes.len(),
                    "import into an empty store: its indexes are built at the end"
                );
            }
            Ok(())
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// SQLite: builds the indexes an import deferred (see [`defer_indexes_of_an_empty_store`]),
/// all in one transaction, so they exist again together or not at all. Run at an import's
/// end and whenever the store is opened (an import that stopped early).
pub(super) async fn build_deferred_indexes(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let pending: Vec<(String, String)> =
        sqlx::query("SELECT name, sql FROM deferred_indexes ORDER BY name")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("sql")?)))
            .collect::<Result<_, StoreError>>()?;
    if pending.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    // Each build sorts its table's keys: past the page cache's worth of memory the sort
    // spills to temporary files, which `temp_store = MEMORY` (the store's setting) would
    // keep in memory instead (the import's peak RSS went 570 -> 909 MiB at 10^7 events).
    sqlx::query("PRAGMA temp_store = FILE")
        .execute(&mut *conn)
        .await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let built = async {
        for (name, sql) in &pending {
            query(sql.clone()).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM deferred_indexes WHERE name = $1")
                .bind(name.clone())
                .execute(&mut *conn)
                .await?;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    let built = match built {
        Ok(()) => sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(StoreError::from),
        Err(e) => Err(e),
    };
    sqlx::query("PRAGMA temp_store = MEMORY")
        .execute(&mut *conn)
        .await?;
    match built {
        Ok(()) => {
            tracing::info!(
                indexes = pending.len(),
                seconds = started.elapsed().as_secs_f64(),
                "built the indexes the import deferred"
            );
            Ok(())
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// Set for the length of one SQLite batch, outside its transaction (SQLite ignores
/// `foreign_keys` inside one), and restored after it.
const SQLITE_IMPORT_PRAGMAS: &[&str] = &[
    // Checkpoint when the WAL passes 1 GiB instead of 4 MiB. A batch rewrites every index
    // page it touches, and random keys (`(service, sha)`, commit change ids) touch pages
    // all over their index: every commit appends tens of MiB of pages to the WAL, mostly
    // the same pages again. A checkpoint copies each page once however often the WAL holds
    // it, so checkpointing seldom copies (and syncs) far less into the database file.
    "PRAGMA wal_autocheckpoint = 262144",
    // Changes are inserted only for deployments this transaction has just inserted, so
    // the key to `deployments` holds by construction; checking it is a lookup per change.
    "PRAGMA foreign_keys = OFF",
];
const SQLITE_RESTORE_PRAGMAS: &[&str] = &[
    "PRAGMA foreign_keys = ON",
    // The pools' setting (store::sql::open_sqlite).
    "PRAGMA wal_autocheckpoint = 2048",
];

async fn write_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    deployments: &[Deployment],
    incidents: &[IncidentUpdate],
) -> Result<ImportCounts, StoreError> {
    let now = crate::timefmt::now();
    let mut tx = match backend {
        Backend::Sqlite => sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?,
        Backend::Postgres => sqlx::Connection::begin(&mut *conn).await?,
    };
    let mut counts = ImportCounts::default();
    let mut services: BTreeMap<&str, TeamClaim<'_>> = BTreeMap::new();
    let new = insert_deployments(&mut tx, backend, deployments, now, &mut counts).await?;
    for d in &new {
        let entry = services.entry(d.service.as_str()).or_insert(None);
        if let Some(team) = d.team.as_deref()
            && entry.is_none_or(|(_, at, id)| (d.deployed_at, d.id.as_str()) > (at, id))
        {
            *entry = Some((team, d.deployed_at, d.id.as_str()));
        }
    }
    let merged = merge_incidents(&mut tx, backend, incidents, now, &mut counts).await?;
    for i in &merged {
        if let Some(service) = &i.service {
            services.entry(service.as_str()).or_insert(None);
        }
    }
    upsert_services(&mut tx, backend, &services).await?;
    tx.commit().await?;
    Ok(counts)
}

/// The batch's rows as one JSON text parameter: an array of rows, each an array (a tuple
/// serializes as one) in column order.
fn rows_param<T: serde::Serialize>(rows: impl Iterator<Item = T>) -> String {
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &row).expect("rows serialize");
    }
    out.push(b']');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// `SELECT <columns> FROM <the rows of $1>` for `n` columns of the given SQL types, in the
/// backend's dialect. SQLite needs the `WHERE true` to tell `ON CONFLICT` from a join.
fn select_rows(backend: Backend, types: &[&str]) -> String {
    match backend {
        Backend::Sqlite => {
            let cols: Vec<String> = (0..types.len()).map(|i| format!("value->>{i}")).collect();
            // jsonb_each: each row array stays in SQLite's binary JSON, so `->>` reads it
            // without converting it to text and parsing it again.
            format!("SELECT {} FROM jsonb_each($1) WHERE true", cols.join(", "))
        }
        Backend::Postgres => {
            let cols: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, t)| match *t {
                    "text" => format!("r->>{i}"),
                    other => format!("(r->>{i})::{other}"),
                })
                .collect();
            format!(
                "SELECT {} FROM json_array_elements($1::json) AS t(r)",
                cols.join(", ")
            )
        }
    }
}

async fn insert_deployments<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    deployments: &'a [Deployment],
    now: Timestamp,
    counts: &mut ImportCounts,
) -> Result<Vec<&'a Deployment>, StoreError> {
    // The first of several deliveries of one id is the one that may insert.
    let mut first: HashSet<&str> = HashSet::with_capacity(deployments.len());
    let mut candidates: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| first.insert(d.id.as_str()))
        .collect();
    counts.deployments_already += (deployments.len() - candidates.len()) as u64;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Id order, as the writer inserts: no lock cycles with a replica's batch.
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    let rows = rows_param(candidates.iter().map(|d| {
        (
            &d.id,
            &d.service,
            &d.environment,
            env_key(&d.environment),
            d.status.as_str(),
            d.deployed_at.millis(),
            &d.sha,
            &d.repo,
            &d.team,
            d.lead_time_seconds,
            now.millis(),
            i64::from(d.hotfix),
            i64::from(d.rollback),
            &d.branch,
            labels_column(&d.labels),
        )
    }));
    let insert = format!(
        "INSERT INTO deployments ({DEPLOYMENT_INSERT_COLUMNS}) {} {DEPLOYMENT_ON_CONFLICT}",
        select_rows(
            backend,
            &[
                "text",
                "text",
                "text",
                "text",
                "text",
                "bigint",
                "text",
                "text",
                "text",
                "double precision",
                "bigint",
                "bigint",
                "bigint",
                "text",
                "text",
            ]
        )
    );
    let new: Vec<&Deployment> = match backend {
        // The batch holds SQLite's write lock (BEGIN IMMEDIATE): the ids stored before the
        // insert are exactly the ones it skips. Asking first is much cheaper than
        // `RETURNING` a row per inserted deployment through the driver.
        Backend::Sqlite => {
            let ids = rows_param(candidates.iter().map(|d| &d.id));
            let known: HashSet<String> = sqlx::query(
                "SELECT id FROM deployments WHERE id IN (SELECT value FROM json_each($1))",
            )
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
            query(insert).bind(rows).execute(&mut *conn).await?;
            candidates
                .into_iter()
                .filter(|d| !known.contains(&d.id))
                .collect()
        }
        // Another replica may insert the same ids meanwhile: ask the insert itself.
        Backend::Postgres => {
            let inserted: HashSet<String> = query(format!("{insert} RETURNING id"))
                .bind(rows)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            candidates
                .into_iter()
                .filter(|d| inserted.contains(&d.id))
                .collect()
        }
    };
    counts.deployments_created += new.len() as u64;
    counts.deployments_already += (first.len() - new.len()) as u64;

    let n_changes: usize = new.iter().map(|d| d.changes.len()).sum();
    counts.changes_created += n_changes as u64;
    if n_changes > 0 {
        let changes = rows_param(new.iter().flat_map(|d| {
            d.changes
                .iter()
                .enumerate()
                .map(move |(p, c)| (&d.id, p as i64, &d.service, &c.id, c.started_at.millis()))
        }));
        let sql = format!(
            "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) {}",
            select_rows(backend, &["text", "bigint", "text", "text", "bigint"])
        );
        query(sql).bind(changes).execute(&mut *conn).await?;
    }
    Ok(new)
}

/// Merges the deliveries in order onto the stored incidents and writes the rows that
/// changed; returns the incidents written.
async fn merge_incidents(
    conn: &mut AnyConnection,
    backend: Backend,
    updates: &[IncidentUpdate],
    now: Timestamp,
    counts: &mut ImportCounts,
) -> Result<Vec<Incident>, StoreError> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = updates.iter().map(|u| u.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if backend == Backend::Postgres {
        // The writer's lock (writer.rs `lock_incidents`): key space 1, ids in byte order.
        for id in &ids {
            sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    let sql = match backend {
        Backend::Sqlite => format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id IN (SELECT value FROM json_each($1))"
        ),
        Backend::Postgres => format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE id IN (SELECT json_array_elements_text($1::json))"
        ),
    };
    let mut stored: HashMap<String, Incident> = HashMap::new();
    for row in query(sql)
        .bind(rows_param(ids.iter()))
        .fetch_all(&mut *conn)
        .await?
    {
        let i = incident_from_row(&row)?;
        stored.insert(i.id.clone(), i);
    }
    // Each id's state as the deliveries are applied in order; `None`: not stored yet.
    let mut current: HashMap<&str, Option<Incident>> = ids
        .iter()
        .map(|id| (*id, stored.get(*id).cloned()))
        .collect();
    for update in updates {
        let slot = current
            .get_mut(update.id.as_str())
            .expect("every id has a slot");
        let merged = update.clone().apply(slot.as_ref())?;
        *slot = Some(merged);
    }
    let mut written = Vec::new();
    for id in ids {
        let merged = current.remove(id).flatten().expect("every id was merged");
        match stored.get(id) {
            None => counts.incidents_created += 1,
            Some(old) if *old == merged => {
                counts.incidents_unchanged += 1;
                continue;
            }
            Some(_) => counts.incidents_updated += 1,
        }
        written.push(merged);
    }
    if written.is_empty() {
        return Ok(written);
    }
    let rows = rows_param(written.iter().map(|m| {
        (
            &m.id,
            &m.service,
            &m.environment,
            env_key(&m.environment),
            m.opened_at.millis(),
            m.resolved_at.map(Timestamp::millis),
            &m.severity,
            m.caused_by_deploy.map(i64::from),
            &m.deployment_id,
            now.millis(),
            now.millis(),
            m.fault_class.map(|c| c.as_str()),
            &m.note,
            &m.triaged_by,
            m.triaged_at.map(Timestamp::millis),
        )
    }));
    let sql = format!(
        "INSERT INTO incidents ({INCIDENT_UPSERT_COLUMNS}) {} {INCIDENT_ON_CONFLICT}",
        select_rows(
            backend,
            &[
                "text", "text", "text", "text", "bigint", "bigint", "text", "bigint", "text",
                "bigint", "bigint", "text", "text", "text", "bigint",
            ]
        )
    );
    query(sql).bind(rows).execute(&mut *conn).await?;
    Ok(written)
}

/// The upsert of writer.rs `upsert_services`, one row per name.
async fn upsert_services(
    conn: &mut AnyConnection,
    backend: Backend,
    services: &BTreeMap<&str, TeamClaim<'_>>,
) -> Result<(), StoreError> {
    if services.is_empty() {
        return Ok(());
    }
    let rows = rows_param(services.iter().map(|(name, claim)| {
        (
            name,
            claim.map(|(t, _, _)| t),
            claim.map(|(_, at, _)| at.millis()),
            claim.map(|(_, _, id)| id),
        )
    }));
    let sql = format!(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) {} \
         {SERVICES_ON_CONFLICT}",
        select_rows(backend, &["text", "text", "bigint", "text"])
    );
    query(sql).bind(rows).execute(&mut *conn).await?;
    Ok(())
}
