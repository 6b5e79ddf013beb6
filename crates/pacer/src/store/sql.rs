//! The SQL store. It talks to the database through sqlx's `Any` driver with portable SQL
//! (`$n` placeholders, `ON CONFLICT`, row values), so the PostgreSQL backend can share it.

use super::TriageEntry;
use super::read::{Columns, Reader, SqliteReaders, Statement};
use super::writer::{Durability, Inbox, SettleBeforeReads, WriteOp, WriteOutcome, Writer};
use super::{IncidentDelivery, IncidentEvent};
use super::{LeadTimeSet, ListQuery, Recorded, ServiceRecord, Store, StoreError, WebhookDelivery};
use async_trait::async_trait;
use pacer_core::{
    Change, DeployStatus, Deployment, EventSet, Incident, IncidentUpdate, Timestamp, Window,
};
use pacer_core::{FaultClass, TriageChange};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, SqlSafeStr};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// One migration per schema version, in each backend's dialect. The two lists must keep
/// the same versions: a database is at version N on either backend.
macro_rules! migrations {
    ($dir:literal) => {
        &[
            (
                1,
                "init",
                include_str!(concat!("../../migrations/", $dir, "/0001_init.sql")),
            ),
            (
                2,
                "webhook_deliveries",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0002_webhook_deliveries.sql"
                )),
            ),
            (
                3,
                "rework",
                include_str!(concat!("../../migrations/", $dir, "/0003_rework.sql")),
            ),
            (
                4,
                "triage",
                include_str!(concat!("../../migrations/", $dir, "/0004_triage.sql")),
            ),
            (
                5,
                "incident_events",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0005_incident_events.sql"
                )),
            ),
            (
                6,
                "window_indexes",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0006_window_indexes.sql"
                )),
            ),
            (
                7,
                "sha_index_only_with_sha",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0007_sha_index_only_with_sha.sql"
                )),
            ),
            (
                8,
                "deferred_indexes",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0008_deferred_indexes.sql"
                )),
            ),
            (
                9,
                "legacy_push_ids",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0009_legacy_push_ids.sql"
                )),
            ),
            (
                10,
                "deployment_inbox",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0010_deployment_inbox.sql"
                )),
            ),
        ]
    };
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = migrations!("sqlite");
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = migrations!("postgres");

/// The newest schema version this binary knows: the last migration's.
pub const SCHEMA_VERSION: i64 = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.len() - 1].0;

/// Which database a URL names; the SQL is shared, a few statements are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// `url` with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    let migrations = list
        .iter()
        .map(|(v, d, sql)| {
            Migration::new(
                *v,
                (*d).into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; a database migrated by a newer Pacer (a
/// version this binary does not know) is refused rather than written with old code.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    match migrator(backend).run(pool).await {
        Err(sqlx::migrate::MigrateError::VersionMissing(found)) => Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        }),
        other => Ok(other?),
    }
}

/// What migration 0009 recorded: the latest deployment time of a push id of the old
/// format, `None` when the store held none.
async fn legacy_push_ids_until(read: &AnyPool) -> Result<Option<Timestamp>, StoreError> {
    let until: Option<i64> = sqlx::query("SELECT MAX(stored_until) AS until FROM legacy_push_ids")
        .fetch_one(read)
        .await?
        .try_get("until")?;
    Ok(until.map(Timestamp::from_millis))
}

/// Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
pub(super) const MAX_PARAMS_PER_QUERY: usize = 500;

const DEPLOYMENT_COLUMNS: &str = "id, service, environment, status, deployed_at, sha, repo, team, \
     lead_time_seconds, marked_hotfix, marked_rollback, branch, labels";
pub(super) const INCIDENT_COLUMNS: &str = "id, service, environment, opened_at, resolved_at, severity, caused_by_deploy, deployment_id, \
     fault_class, note, triaged_by, triaged_at";

/// A store over SQL. Writes go through one group-commit writer per process (see
/// writer.rs): on SQLite it is the only writer the file allows; on PostgreSQL several
/// replicas each run one, and the database (unique keys, `ON CONFLICT`, row and advisory
/// locks) keeps their writes consistent.
pub struct SqlStore {
    read: AnyPool,
    /// Where the event reads run (store/read.rs).
    reader: Reader,
    writer: Writer,
    /// `pacer import`'s write path (bulk.rs).
    bulk: super::bulk::Bulk,
    /// The latest deployment time a push id of the old format can have (migration 0009).
    legacy_push_ids_until: Option<Timestamp>,
}

/// How SQLite syncs commits, from the URL's `synchronous=` parameter (Pacer's own; it is
/// removed before the URL reaches the driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Synchronous {
    /// An acknowledged write survives a power cut (the default).
    Full,
    /// An acknowledged write survives a crash of Pacer, not of the machine; commits do not
    /// wait for the disk, and the writer does not sync the write-ahead log either.
    Normal,
}

/// The driver URL (creating the file if missing) and the sync mode.
fn sqlite_url(url: &str) -> Result<(String, Synchronous), StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
    if rest.is_empty() || rest.starts_with(":memory:") {
        return Err(StoreError::UnsupportedUrl(format!(
            "{url} (an in-memory database would be lost at exit; name a file)"
        )));
    }
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let mut synchronous = Synchronous::Full;
    let mut kept: Vec<&str> = Vec::new();
    for param in params.split('&').filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some(("synchronous", v)) => {
                synchronous = match v.to_ascii_lowercase().as_str() {
                    "full" => Synchronous::Full,
                    "normal" => Synchronous::Normal,
                    _ => {
                        return Err(StoreError::UnsupportedUrl(format!(
                            "{url} (synchronous={v} is not full or normal)"
                        )));
                    }
                }
            }
            _ => kept.push(param),
        }
    }
    if !kept.iter().any(|p| p.starts_with("mode=")) {
        kept.push("mode=rwc");
    }
    Ok((format!("sqlite://{path}?{}", kept.join("&")), synchronous))
}

/// The database file a normalised `sqlite://path?...` URL names.
fn db_path(url: &str) -> std::path::PathBuf {
    let rest = url.strip_prefix("sqlite://").unwrap_or(url);
    std::path::PathBuf::from(rest.split_once('?').map_or(rest, |(p, _)| p))
}

/// The write-ahead log of the database a normalised `sqlite://path?...` URL names.
fn wal_path(url: &str) -> std::path::PathBuf {
    let mut wal = db_path(url).into_os_string();
    wal.push("-wal");
    wal.into()
}

/// What every SQLite connection of Pacer runs when it opens, with its own page cache and
/// automatic checkpoint settings.
///
/// WAL lets readers run beside the writer. Every connection runs `synchronous = NORMAL`:
/// with `?synchronous=full` (the default) the writer makes each commit durable itself by
/// syncing the write-ahead log before it answers (writer::Durability::SyncWal); with
/// `?synchronous=normal` nothing waits.
fn sqlite_pragmas(cache: &'static str, checkpoint: &'static str) -> [&'static str; 7] {
    [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA foreign_keys = ON",
        cache,
        // Statement journals (a multi-row INSERT inside the batch's transaction) in
        // memory: on disk SQLite created and deleted a temporary file on every group commit.
        "PRAGMA temp_store = MEMORY",
        checkpoint,
    ]
}

impl SqlStore {
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        match Backend::of(url) {
            Backend::Sqlite => Self::open_sqlite(url).await,
            Backend::Postgres => Self::open_postgres(url).await,
        }
    }

    /// Connects and migrates only (`pacer migrate`): returns the schema version reached.
    pub async fn migrate_only(url: &str) -> Result<i64, StoreError> {
        let store = Self::open(url).await?;
        let version: i64 = sqlx::query(
            "SELECT MAX(version) AS version FROM _sqlx_migrations WHERE success = TRUE",
        )
        .fetch_one(&store.read)
        .await?
        .try_get("version")?;
        Ok(version)
    }

    async fn open_postgres(url: &str) -> Result<SqlStore, StoreError> {
        // One plain connection first: the pool retries refused connections until its
        // timeout, which would turn a wrong host into a 30-second silence.
        let unreachable = |source: sqlx::Error| StoreError::Unreachable {
            url: redact_url(url),
            source,
        };
        let probe = tokio::time::timeout(
            Duration::from_secs(10),
            <sqlx::AnyConnection as sqlx::Connection>::connect(url),
        )
        .await
        .map_err(|_| unreachable(sqlx::Error::PoolTimedOut))?
        .map_err(unreachable)?;
        sqlx::Connection::close(probe).await.ok();
        let options = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
        };
        let write = options(1).connect(url).await.map_err(unreachable)?;
        // sqlx's PostgreSQL migrator takes an advisory lock: replicas starting together
        // migrate once.
        migrate(&write, Backend::Postgres).await?;
        // Readers are server processes, not threads of this one: a few more than the
        // cores let metric loads overlap their waits on the network.
        let read = options(6).connect(url).await.map_err(unreachable)?;
        Ok(SqlStore {
            bulk: super::bulk::Bulk::new(read.clone(), Backend::Postgres, true),
            reader: Reader::Sqlx(read.clone()),
            legacy_push_ids_until: legacy_push_ids_until(&read).await?,
            read,
            writer: Writer::spawn_postgres(write),
        })
    }

    async fn open_sqlite(url: &str) -> Result<SqlStore, StoreError> {
        let (url, synchronous) = sqlite_url(url)?;
        // See sqlite_pragmas for how `synchronous` is kept.
        let durability = match synchronous {
            Synchronous::Full => Durability::SyncWal(wal_path(&url)),
            Synchronous::Normal => Durability::AtCommit,
        };
        // Per connection: its page cache and its automatic checkpoint threshold.
        let options = |max: u32, cache: &'static str, checkpoint: &'static str| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        for pragma in sqlite_pragmas(cache, checkpoint) {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                })
        };
        // The writer keeps SQLite's default 2 MiB page cache: with 16 MiB, 7 % of its
        // thread's time went to scanning the cache's hash table when a transaction ended
        // (pcache1TruncateUnsafe), more than the page reads the bigger cache saved. A
        // thread of the writer copies the write-ahead log into the database as it grows
        // (writer/sqlite_thread.rs `checkpoint_wal`); the writer's own checkpoint at 2,048
        // pages (8 MiB) then finds little left to copy, and starts the log over.
        const DEFAULT_CACHE: &str = "PRAGMA cache_size = -2000";
        const CHECKPOINT_AT_2048: &str = "PRAGMA wal_autocheckpoint = 2048";
        let write = options(1, DEFAULT_CACHE, CHECKPOINT_AT_2048)
            .connect(&url)
            .await?;
        migrate(&write, Backend::Sqlite).await?;
        // An import that stopped before its end left indexes to build (store::bulk).
        super::bulk::build_deferred_indexes(&mut *write.acquire().await?).await?;
        // sqlx's readers serve what is not an event read (lists of services, the triage
        // log) and `pacer import`, which writes through one of them (store::bulk), so they
        // checkpoint as the writer does. SQLite's default 2 MiB page cache each: the
        // window loads, which seek indexes all over a multi-GB file, run on `event_reads`.
        let read = options(2, DEFAULT_CACHE, CHECKPOINT_AT_2048)
            .connect(&url)
            .await?;
        // Two event readers for two cores: each has its own page cache, memory that more
        // readers would not repay. 8 MiB each instead of SQLite's 2 MiB: with the default,
        // most index seeks of a window load were a pread of the same upper B-tree pages
        // again. Through sqlx a report needed 16 MiB; read with rusqlite, 8 MiB gives
        // the same report times and less memory (docs/benchmarks.md).
        let event_reads = sqlite_pragmas("PRAGMA cache_size = -8192", CHECKPOINT_AT_2048);
        let path = db_path(&url);
        let mut writer_conn = super::writer::open_sqlite_connection(
            &path,
            &sqlite_pragmas(DEFAULT_CACHE, CHECKPOINT_AT_2048),
        )?;
        // Deployments a stop left in the inbox (writer/sqlite_thread.rs), before anything
        // reads: the writer starts with an empty inbox.
        super::writer::merge_inbox(&mut writer_conn)?;
        let inbox = Arc::new(Inbox::default());
        let writer = Writer::spawn_sqlite(
            writer_conn,
            // The checkpoint thread's: it reads the log and writes the database file
            // without the page cache, and never writes through SQL.
            super::writer::open_sqlite_connection(
                &path,
                &sqlite_pragmas("PRAGMA cache_size = -256", "PRAGMA wal_autocheckpoint = 0"),
            )?,
            write,
            durability,
            Arc::clone(&inbox),
        )?;
        Ok(SqlStore {
            bulk: super::bulk::Bulk::new(
                read.clone(),
                Backend::Sqlite,
                synchronous == Synchronous::Full,
            ),
            legacy_push_ids_until: legacy_push_ids_until(&read).await?,
            read,
            reader: Reader::Sqlite(Arc::new(SqliteReaders::start(
                path.clone(),
                &event_reads,
                2,
                Some(SettleBeforeReads {
                    inbox,
                    writer: writer.clone(),
                }),
            )?)),
            writer,
        })
    }
}

pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

pub(super) fn query(sql: String) -> AnyQuery<'static> {
    sqlx::query(AssertSqlSafe(sql))
}

/// [`query`] for a statement with many parameters. On SQLite, `$1, $2, ... $n` written in
/// that order, each once, become anonymous `?`s: sqlx binds by asking SQLite each
/// parameter's name, and SQLite finds a name by scanning the list of named parameters, so
/// a statement with n named parameters costs n^2/2 steps to bind (7 % of the CPU of a
/// 64-client ingest in a profile). Anonymous parameters have no name to scan for.
pub(super) fn bulk_query(backend: Backend, sql: String) -> AnyQuery<'static> {
    match backend {
        Backend::Sqlite => match anonymous_parameters(&sql) {
            Some(anonymous) => query(anonymous),
            None => query(sql),
        },
        Backend::Postgres => query(sql),
    }
}

/// `sql` with `$1..$n` replaced by `?` when they appear in order, each once, outside
/// quotes; `None` otherwise (the rewrite would change which value binds where).
///
/// Runs once per batch on the writer's path over statements of up to tens of kilobytes,
/// so it scans bytes and copies the text between parameters in runs (`$`, `'` and digits
/// are ASCII, so every cut falls on a character boundary).
pub(super) fn anonymous_parameters(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut in_quote = false;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                in_quote = !in_quote;
                i += 1;
            }
            b'$' if !in_quote => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = sql[i + 1..i + 1 + digits].parse::<usize>().ok()?;
                if number != expected {
                    return None;
                }
                expected += 1;
                out.push_str(&sql[copied..i]);
                out.push('?');
                i += 1 + digits;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// `$from, $from+1, ...` for `n` parameters.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn deployment_from_row(row: &dyn Columns) -> Result<Deployment, StoreError> {
    let status = row.text("status")?;
    Ok(Deployment {
        id: row.text("id")?,
        service: row.text("service")?,
        environment: row.text("environment")?,
        status: DeployStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("deployment status {status:?}")))?,
        deployed_at: Timestamp::from_millis(row.int("deployed_at")?),
        sha: row.opt_text("sha")?,
        repo: row.opt_text("repo")?,
        team: row.opt_text("team")?,
        changes: Vec::new(),
        lead_time_seconds: row.opt_real("lead_time_seconds")?,
        hotfix: row.int("marked_hotfix")? != 0,
        rollback: row.int("marked_rollback")? != 0,
        branch: row.opt_text("branch")?,
        labels: labels_from_column(row.opt_text("labels")?)?,
    })
}

/// Labels as stored: a JSON array of strings, `NULL` for none.
pub(super) fn labels_column(labels: &[String]) -> Option<String> {
    (!labels.is_empty()).then(|| serde_json::to_string(labels).expect("strings serialize"))
}

fn labels_from_column(text: Option<String>) -> Result<Vec<String>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| StoreError::Corrupt(format!("deployment labels {t:?}: {e}"))),
    }
}

pub(super) fn incident_from_row(row: &dyn Columns) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: row.text("id")?,
        service: row.opt_text("service")?,
        environment: row.text("environment")?,
        opened_at: Timestamp::from_millis(row.int("opened_at")?),
        resolved_at: row.opt_int("resolved_at")?.map(Timestamp::from_millis),
        severity: row.opt_text("severity")?,
        caused_by_deploy: row.opt_int("caused_by_deploy")?.map(|c| c != 0),
        deployment_id: row.opt_text("deployment_id")?,
        fault_class: match row.opt_text("fault_class")? {
            None => None,
            Some(c) => Some(
                FaultClass::parse(&c)
                    .ok_or_else(|| StoreError::Corrupt(format!("incident fault_class {c:?}")))?,
            ),
        },
        note: row.opt_text("note")?,
        triaged_by: row.opt_text("triaged_by")?,
        triaged_at: row.opt_int("triaged_at")?.map(Timestamp::from_millis),
    })
}

/// A triage log row: `changes` is `{field: {"old": v, "new": v}}` as JSON text.
fn triage_entry_from_row(row: &AnyRow) -> Result<TriageEntry, StoreError> {
    let text: String = row.try_get("changes")?;
    let corrupt = || StoreError::Corrupt(format!("triage log changes {text:?}"));
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|_| corrupt())?;
    let mut changes = Vec::new();
    for (field, values) in map {
        let field = TRIAGE_FIELDS
            .iter()
            .find(|f| **f == field)
            .copied()
            .ok_or_else(corrupt)?;
        let value = |k: &str| values.get(k).and_then(|v| v.as_str()).map(String::from);
        changes.push(TriageChange {
            field,
            old: value("old"),
            new: value("new"),
        });
    }
    changes.sort_by_key(|c| TRIAGE_FIELDS.iter().position(|f| *f == c.field));
    Ok(TriageEntry {
        at: Timestamp::from_millis(row.try_get("at")?),
        actor: row.try_get("actor")?,
        changes,
    })
}

/// How a deployment row is written, shared by the writer (`VALUES` rows) and the bulk
/// import (rows expanded from JSON): `INSERT INTO deployments ({DEPLOYMENT_INSERT_COLUMNS})
/// <rows> {DEPLOYMENT_ON_CONFLICT}`. A known id keeps its first recording.
pub(super) const DEPLOYMENT_INSERT_COLUMNS: &str = "id, service, environment, env_key, status, \
     deployed_at, sha, repo, team, lead_time_seconds, received_at, marked_hotfix, \
     marked_rollback, branch, labels";
pub(super) const DEPLOYMENT_ON_CONFLICT: &str = "ON CONFLICT (id) DO NOTHING";

/// How a merged incident row is written (writer and bulk import alike): every column of the
/// merge's result replaces the stored one; `received_at` stays that of the first delivery.
pub(super) const INCIDENT_UPSERT_COLUMNS: &str = "id, service, environment, env_key, opened_at, \
     resolved_at, severity, caused_by_deploy, deployment_id, received_at, updated_at, \
     fault_class, note, triaged_by, triaged_at";
pub(super) const INCIDENT_ON_CONFLICT: &str = "ON CONFLICT (id) DO UPDATE SET \
     service = excluded.service, environment = excluded.environment, env_key = excluded.env_key, \
     opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, \
     severity = excluded.severity, caused_by_deploy = excluded.caused_by_deploy, \
     deployment_id = excluded.deployment_id, updated_at = excluded.updated_at, \
     fault_class = excluded.fault_class, note = excluded.note, \
     triaged_by = excluded.triaged_by, triaged_at = excluded.triaged_at";

/// How a service row is written (writer and bulk import alike): its team is that of its
/// latest deployment naming one, latest by `(deployed_at, id)`, so delivery order never
/// matters. Rows are `(name, team, team_deployed_at, team_deployment_id)`.
pub(super) const SERVICES_ON_CONFLICT: &str = "ON CONFLICT (name) DO UPDATE SET \
     team = excluded.team, team_deployed_at = excluded.team_deployed_at, \
     team_deployment_id = excluded.team_deployment_id \
     WHERE excluded.team IS NOT NULL AND (services.team IS NULL \
     OR excluded.team_deployed_at > services.team_deployed_at \
     OR (excluded.team_deployed_at = services.team_deployed_at \
         AND excluded.team_deployment_id > services.team_deployment_id))";

/// The triage fields, in the order the log shows them.
pub(super) const TRIAGE_FIELDS: [&str; 4] =
    ["caused_by_deploy", "deployment_id", "fault_class", "note"];

pub(super) fn env_key(environment: &str) -> String {
    environment.trim().to_lowercase()
}

impl SqlStore {
    async fn fetch_deployments(&self, q: Statement) -> Result<Vec<Deployment>, StoreError> {
        let mut deployments = self.fetch_deployment_rows(q).await?;
        self.attach_changes(&mut deployments).await?;
        Ok(deployments)
    }

    /// Deployments without their changes.
    async fn fetch_deployment_rows(&self, q: Statement) -> Result<Vec<Deployment>, StoreError> {
        self.reader.rows(q, deployment_from_row).await
    }

    async fn fetch_incidents(&self, q: Statement) -> Result<Vec<Incident>, StoreError> {
        self.reader.rows(q, incident_from_row).await
    }

    async fn attach_changes(&self, deployments: &mut [Deployment]) -> Result<(), StoreError> {
        let ids: Vec<String> = deployments.iter().map(|d| d.id.clone()).collect();
        for chunk in ids.chunks(MAX_PARAMS_PER_QUERY) {
            let sql = format!(
                "SELECT deployment_id, change_id, started_at FROM deployment_changes \
                 WHERE deployment_id IN ({}) ORDER BY deployment_id, position",
                placeholders(1, chunk.len())
            );
            self.attach_changes_from(deployments, Statement::new(sql).texts(chunk))
                .await?;
        }
        Ok(())
    }

    /// Adds to `deployments` the change rows `q` selects (`deployment_id, change_id,
    /// started_at`, in position order per deployment).
    async fn attach_changes_from(
        &self,
        deployments: &mut [Deployment],
        q: Statement,
    ) -> Result<(), StoreError> {
        // Each row becomes its deployment's position as it is read, so the window's ~10^5
        // change rows never exist as rows with their deployment ids.
        let index: Arc<HashMap<String, usize>> = Arc::new(
            deployments
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.clone(), i))
                .collect(),
        );
        let rows = self
            .reader
            .rows(q, move |row| {
                let Some(&i) = index.get(&row.text("deployment_id")?) else {
                    return Ok(None);
                };
                Ok(Some((
                    i,
                    Change {
                        id: row.text("change_id")?,
                        started_at: Timestamp::from_millis(row.int("started_at")?),
                    },
                )))
            })
            .await?;
        for (i, change) in rows.into_iter().flatten() {
            deployments[i].changes.push(change);
        }
        Ok(())
    }

    /// The one text column `id` of each row, skipping `NULL`s.
    async fn ids(&self, q: Statement) -> Result<Vec<String>, StoreError> {
        let ids = self.reader.rows(q, |row| row.opt_text("id")).await?;
        Ok(ids.into_iter().flatten().collect())
    }

    async fn deployments_by_id(&self, ids: &[String]) -> Result<Vec<Deployment>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_PARAMS_PER_QUERY) {
            let sql = format!(
                "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            out.extend(
                self.fetch_deployments(Statement::new(sql).texts(chunk))
                    .await?,
            );
        }
        Ok(out)
    }

    /// For each `(service, t)`: the id of the latest successful production deployment at
    /// or before `t`, of that service (or of any service when `None`). One statement per
    /// chunk instead of one per incident: a window load asks this for every incident.
    async fn latest_at_or_before(
        &self,
        asks: &BTreeSet<(Option<String>, Timestamp)>,
        environments: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let envs = placeholders(1, environments.len());
        let first = 1 + environments.len();
        let with_service: Vec<(&str, Timestamp)> = asks
            .iter()
            .filter_map(|(s, t)| s.as_deref().map(|s| (s, *t)))
            .collect();
        let without: Vec<Timestamp> = asks
            .iter()
            .filter(|(s, _)| s.is_none())
            .map(|(_, t)| *t)
            .collect();
        let mut found = Vec::new();
        for chunk in with_service.chunks(MAX_PARAMS_PER_QUERY / 2) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
                .collect();
            let sql = format!(
                "SELECT (SELECT d.id FROM deployments d WHERE d.service = v.column1 \
                 AND d.deployed_at <= v.column2 AND d.status = 'success' AND d.env_key IN ({envs}) \
                 ORDER BY d.deployed_at DESC, d.id DESC LIMIT 1) AS id FROM (VALUES {}) AS v",
                values.join(", ")
            );
            let mut q = Statement::new(sql).texts(environments);
            for (service, t) in chunk {
                q = q.text(*service).int(t.millis());
            }
            found.extend(self.ids(q).await?);
        }
        for chunk in without.chunks(MAX_PARAMS_PER_QUERY) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${})", first + i))
                .collect();
            let sql = format!(
                "SELECT (SELECT d.id FROM deployments d WHERE d.deployed_at <= v.column1 \
                 AND d.status = 'success' AND d.env_key IN ({envs}) \
                 ORDER BY d.deployed_at DESC, d.id DESC LIMIT 1) AS id FROM (VALUES {}) AS v",
                values.join(", ")
            );
            let mut q = Statement::new(sql).texts(environments);
            for t in chunk {
                q = q.int(t.millis());
            }
            found.extend(self.ids(q).await?);
        }
        Ok(found)
    }
}

/// Appends `AND service IN (...)` when restricted; returns the next placeholder number.
fn service_filter(
    sql: &mut String,
    column: &str,
    services: Option<&[String]>,
    next: usize,
) -> usize {
    match services {
        None => next,
        Some([]) => {
            sql.push_str(" AND 1 = 0");
            next
        }
        Some(list) => {
            sql.push_str(&format!(
                " AND {column} IN ({})",
                placeholders(next, list.len())
            ));
            next + list.len()
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn record_deployment(&self, d: &Deployment) -> Result<Recorded, StoreError> {
        match self.writer.submit(WriteOp::Deployment(d.clone())).await? {
            WriteOutcome::Deployment(recorded) => Ok(recorded),
            _ => unreachable!("a deployment write answers with a deployment outcome"),
        }
    }

    async fn record_incident(
        &self,
        update: IncidentUpdate,
    ) -> Result<(Incident, Recorded), StoreError> {
        match self.writer.submit(WriteOp::Incident(update)).await? {
            WriteOutcome::Incident(incident, recorded) => Ok((incident, recorded)),
            _ => unreachable!("an incident write answers with an incident outcome"),
        }
    }

    async fn set_lead_time(
        &self,
        deployment_id: &str,
        seconds: f64,
    ) -> Result<LeadTimeSet, StoreError> {
        let op = WriteOp::LeadTime {
            deployment_id: deployment_id.to_string(),
            seconds,
        };
        match self.writer.submit(op).await? {
            WriteOutcome::LeadTime(outcome) => Ok(outcome),
            _ => unreachable!("a lead-time write answers with a lead-time outcome"),
        }
    }

    async fn record_webhook_deployment(
        &self,
        source: &str,
        delivery_key: &str,
        deployment: &Deployment,
    ) -> Result<WebhookDelivery, StoreError> {
        let op = WriteOp::WebhookDelivery {
            source: source.to_string(),
            key: delivery_key.to_string(),
            deployment: deployment.clone(),
        };
        match self.writer.submit(op).await? {
            WriteOutcome::WebhookDelivery(outcome) => Ok(outcome),
            _ => unreachable!("a webhook delivery answers with a webhook delivery outcome"),
        }
    }

    async fn record_incident_event(
        &self,
        source: &str,
        delivery_key: &str,
        event: &IncidentEvent,
    ) -> Result<IncidentDelivery, StoreError> {
        let op = WriteOp::IncidentEvent {
            source: source.to_string(),
            key: delivery_key.to_string(),
            event: event.clone(),
        };
        match self.writer.submit(op).await? {
            WriteOutcome::IncidentEvent(outcome) => Ok(outcome),
            _ => unreachable!("an incident event answers with an incident event outcome"),
        }
    }

    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        Ok(self.deployments_by_id(&[id.to_string()]).await?.pop())
    }

    fn legacy_push_ids_until(&self) -> Option<Timestamp> {
        self.legacy_push_ids_until
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        Ok(self
            .fetch_incidents(Statement::new(sql).text(id))
            .await?
            .pop())
    }

    async fn triage_history(&self, id: &str) -> Result<Vec<TriageEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, changes FROM incident_triage_log WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(triage_entry_from_row).collect()
    }

    async fn list_deployments(&self, lq: &ListQuery) -> Result<Vec<Deployment>, StoreError> {
        let (sql, binds) = list_sql("deployments", DEPLOYMENT_COLUMNS, "deployed_at", lq);
        self.fetch_deployments(list_statement(sql, &binds, lq))
            .await
    }

    async fn list_incidents(&self, lq: &ListQuery) -> Result<Vec<Incident>, StoreError> {
        let (sql, binds) = list_sql("incidents", INCIDENT_COLUMNS, "opened_at", lq);
        self.fetch_incidents(list_statement(sql, &binds, lq)).await
    }

    async fn deployments_between(
        &self,
        service: Option<&str>,
        environments: &[String],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Deployment>, StoreError> {
        let mut sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE status = 'success' \
             AND deployed_at >= $1 AND deployed_at <= $2 AND env_key IN ({})",
            placeholders(3, environments.len())
        );
        let svc: Vec<String> = service.map(|s| vec![s.to_string()]).unwrap_or_default();
        service_filter(
            &mut sql,
            "service",
            service.map(|_| svc.as_slice()),
            3 + environments.len(),
        );
        sql.push_str(" ORDER BY deployed_at DESC, id DESC");
        let q = Statement::new(sql)
            .int(from.millis())
            .int(to.millis())
            .texts(environments)
            .texts(&svc);
        self.fetch_deployments(q).await
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError> {
        let rows = sqlx::query("SELECT name, team FROM services ORDER BY name")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ServiceRecord {
                    name: r.try_get("name")?,
                    named_team: r.try_get("team")?,
                })
            })
            .collect()
    }

    async fn latest_deployment(
        &self,
        service: &str,
        environments: &[String],
    ) -> Result<Option<Deployment>, StoreError> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE service = $1 AND status = 'success' \
             AND env_key IN ({}) ORDER BY deployed_at DESC, id DESC LIMIT 1",
            placeholders(2, environments.len())
        );
        let q = Statement::new(sql).text(service).texts(environments);
        Ok(self.fetch_deployment_rows(q).await?.pop())
    }

    async fn load_window(
        &self,
        services: Option<&[String]>,
        environments: &[String],
        window: Window,
    ) -> Result<EventSet, StoreError> {
        let (start, end) = (window.start().millis(), window.end.millis());
        let envs = placeholders(3, environments.len());
        let after_envs = 3 + environments.len();
        let svc: Vec<String> = services.map(<[String]>::to_vec).unwrap_or_default();
        // Every statement of the load binds the window's bounds ($1, $2), its environments
        // and its services, in that order.
        let window_statement = |sql: String| {
            Statement::new(sql)
                .int(start)
                .int(end)
                .texts(environments)
                .texts(&svc)
        };

        // 1. Successful production deployments of the scope in the window.
        let mut sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE deployed_at > $1 AND deployed_at <= $2 \
             AND status = 'success' AND env_key IN ({envs})"
        );
        service_filter(&mut sql, "service", services, after_envs);
        let q = window_statement(sql);
        let mut deployments = self.fetch_deployment_rows(q).await?;
        // Their changes with one join on the same condition, not thousands of id lists.
        let mut sql = format!(
            "SELECT c.deployment_id, c.change_id, c.started_at FROM deployment_changes c \
             JOIN deployments d ON d.id = c.deployment_id \
             WHERE d.deployed_at > $1 AND d.deployed_at <= $2 \
             AND d.status = 'success' AND d.env_key IN ({envs})"
        );
        service_filter(&mut sql, "d.service", services, after_envs);
        sql.push_str(" ORDER BY c.deployment_id, c.position");
        let q = window_statement(sql);
        self.attach_changes_from(&mut deployments, q).await?;
        let mut loaded: BTreeSet<String> = deployments.iter().map(|d| d.id.clone()).collect();

        // 2. Earlier production deployments of the same service carrying the same change:
        //    a change counts only in its first production deployment. One self-join, so
        //    the database probes its (service, change_id) index once per change of the
        //    window and sends back only the few earlier carriers (a list of the window's
        //    changes as parameters took thousands of statements at 10^5 changes).
        let mut sql = format!(
            "SELECT DISTINCT e.deployment_id AS id FROM deployments d \
             JOIN deployment_changes c ON c.deployment_id = d.id \
             JOIN deployment_changes e ON e.service = c.service AND e.change_id = c.change_id \
             JOIN deployments ed ON ed.id = e.deployment_id \
             WHERE d.deployed_at > $1 AND d.deployed_at <= $2 \
             AND d.status = 'success' AND d.env_key IN ({envs}) \
             AND ed.deployed_at <= $1 AND ed.status = 'success' AND ed.env_key IN ({envs})"
        );
        service_filter(&mut sql, "d.service", services, after_envs);
        let q = window_statement(sql);
        let mut wanted = BTreeSet::new();
        for id in self.ids(q).await? {
            if !loaded.contains(&id) {
                wanted.insert(id);
            }
        }

        // 3. Incidents: resolved in the window or opened after its start (MTTR, untriaged,
        //    blame by time), naming a window deployment, or naming no service (blamed
        //    organisation-wide by time).
        let mut sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE env_key IN ({envs}) \
             AND (opened_at > $1 OR (resolved_at > $1 AND resolved_at <= $2))"
        );
        service_filter(&mut sql, "service", services, after_envs);
        let q = window_statement(sql);
        let mut incidents: BTreeMap<String, Incident> = self
            .fetch_incidents(q)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        // ... and incidents naming one of the window's deployments (a subquery on the
        // window's condition rather than lists of its ids).
        let mut sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE env_key IN ({envs}) \
             AND deployment_id IN (SELECT id FROM deployments WHERE deployed_at > $1 \
             AND deployed_at <= $2 AND status = 'success' AND env_key IN ({envs})"
        );
        service_filter(&mut sql, "service", services, after_envs);
        sql.push(')');
        let q = window_statement(sql);
        for i in self.fetch_incidents(q).await? {
            incidents.insert(i.id.clone(), i);
        }
        if services.is_some() {
            // Incidents naming no service are blamed on the latest production deployment
            // of any service (organisation-wide, by time). In a service scope only those
            // whose deployment belongs to the scope can change a figure (the engine counts
            // them nowhere else there), so the rest are left in the database: at 10^7
            // events each service's request otherwise loaded every such incident of the
            // organisation and the deployment it blames, with that deployment's changes.
            let mut sql = format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE opened_at > $1 AND $2 = $2 \
                 AND env_key IN ({envs}) AND service IS NULL AND deployment_id IS NULL"
            );
            // `service_filter` appends `AND <column> IN (<scope>)`; the column here is the
            // service of the deployment the incident is blamed on.
            let blamed = format!(
                "(SELECT d.service FROM deployments d WHERE d.deployed_at <= i.opened_at \
                 AND d.status = 'success' AND d.env_key IN ({envs}) \
                 ORDER BY d.deployed_at DESC, d.id DESC LIMIT 1)"
            );
            service_filter(&mut sql, &blamed, services, after_envs);
            let q = window_statement(sql);
            for i in self.fetch_incidents(q).await? {
                incidents.insert(i.id.clone(), i);
            }
        }

        // 4. The deployment each incident is attributed to, wherever it lies in time.
        let mut asks = BTreeSet::new();
        for inc in incidents.values() {
            match &inc.deployment_id {
                Some(named) => {
                    wanted.insert(named.clone());
                }
                None => {
                    asks.insert((inc.service.clone(), inc.opened_at));
                }
            }
        }
        wanted.extend(self.latest_at_or_before(&asks, environments).await?);

        // 5. Rework: for each service with a deployment in the window, the deployment that
        //    ran right before the window (the sha it replaced), and for each of their shas
        //    an earlier deployment of the service with that sha (it ran before).
        //    `deployments` holds only the window's deployments at this point.
        //    Both are one statement driven by the window's own condition: as lists of
        //    asks they took ~200 statements and seconds for a 10,000-service report.
        let window_condition = |sql: &mut String, prefix: &str| {
            sql.push_str(&format!(
                "{prefix}deployed_at > $1 AND {prefix}deployed_at <= $2 \
                 AND {prefix}status = 'success' AND {prefix}env_key IN ({envs})"
            ));
            service_filter(sql, &format!("{prefix}service"), services, after_envs);
        };
        let mut sql = format!(
            "SELECT (SELECT d.id FROM deployments d WHERE d.service = w.service \
             AND d.deployed_at <= $1 AND d.status = 'success' AND d.env_key IN ({envs}) \
             ORDER BY d.deployed_at DESC, d.id DESC LIMIT 1) AS id \
             FROM (SELECT DISTINCT service FROM deployments WHERE "
        );
        window_condition(&mut sql, "");
        sql.push_str(") w");
        let q = window_statement(sql);
        wanted.extend(self.ids(q).await?);
        // The latest earlier run of each (service, sha) of the window; a sha redeployed
        // many times before the window comes back once per run, and the latest is kept.
        let mut sql = format!(
            "SELECT DISTINCT e.id, e.service, e.sha, e.deployed_at FROM deployments d \
             JOIN deployments e ON e.service = d.service AND e.sha = d.sha \
             WHERE e.sha IS NOT NULL AND e.deployed_at <= $1 AND e.status = 'success' AND e.env_key IN ({envs}) AND "
        );
        window_condition(&mut sql, "d.");
        let q = window_statement(sql);
        let mut latest_run: HashMap<(String, String), (i64, String)> = HashMap::new();
        let runs = self
            .reader
            .rows(q, |row| {
                Ok((
                    (row.text("service")?, row.text("sha")?),
                    (row.int("deployed_at")?, row.text("id")?),
                ))
            })
            .await?;
        for (key, run) in runs {
            match latest_run.get(&key) {
                Some(known) if *known >= run => {}
                _ => {
                    latest_run.insert(key, run);
                }
            }
        }
        wanted.extend(latest_run.into_values().map(|(_, id)| id));
        wanted.retain(|id| !loaded.contains(id));
        let wanted: Vec<String> = wanted.into_iter().collect();
        for d in self.deployments_by_id(&wanted).await? {
            loaded.insert(d.id.clone());
            deployments.push(d);
        }

        let incident_feed_seen = !self
            .ids(Statement::new("SELECT id FROM incidents LIMIT 1"))
            .await?
            .is_empty();
        Ok(EventSet {
            deployments,
            incidents: incidents.into_values().collect(),
            incident_feed_seen,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.read).await?;
        Ok(())
    }

    async fn import_batch(
        &self,
        deployments: &[Deployment],
        incidents: &[IncidentUpdate],
    ) -> Result<super::ImportCounts, StoreError> {
        self.bulk.import_batch(deployments, incidents).await
    }

    async fn import_done(&self) -> Result<(), StoreError> {
        self.bulk.done().await
    }
}

/// The SQL and string binds of a list query; binds go in the order placeholders appear.
fn list_sql(table: &str, columns: &str, time: &str, lq: &ListQuery) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {columns} FROM {table} WHERE $1 = $1 AND $2 = $2");
    // $1 and $2 are the time bounds; string binds follow, numbered by their position.
    let mut binds: Vec<String> = Vec::new();
    let mut eq = |col: &str, value: Option<String>| {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {col} = ${}", 3 + binds.len()));
            binds.push(v);
        }
    };
    eq("service", lq.service.clone());
    eq("env_key", lq.environment.as_deref().map(env_key));
    // Status exists on deployments, triage on incidents; each filter applies where it means something.
    eq(
        "status",
        lq.status.clone().filter(|_| table == "deployments"),
    );
    service_filter(&mut sql, "service", lq.services.as_deref(), 3 + binds.len());
    binds.extend(lq.services.iter().flatten().cloned());
    if lq.from.is_some() {
        sql.push_str(&format!(" AND {time} >= $1"));
    }
    if lq.to.is_some() {
        sql.push_str(&format!(" AND {time} <= $2"));
    }
    match lq.untriaged.filter(|_| table == "incidents") {
        Some(true) => sql.push_str(" AND caused_by_deploy IS NULL"),
        Some(false) => sql.push_str(" AND caused_by_deploy IS NOT NULL"),
        None => {}
    }
    sql.push_str(&format!(
        " ORDER BY {time} DESC, id DESC LIMIT {} OFFSET {}",
        lq.limit, lq.offset
    ));
    (sql, binds)
}

fn list_statement(sql: String, binds: &[String], lq: &ListQuery) -> Statement {
    Statement::new(sql)
        .int(lq.from.map_or(0, Timestamp::millis))
        .int(lq.to.map_or(0, Timestamp::millis))
        .texts(binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_in_order_parameters_become_anonymous() {
        let rewrite = |s: &str| anonymous_parameters(s);
        assert_eq!(
            rewrite("INSERT INTO t VALUES ($1, NULLIF($2, 'NaN')), ($3, $4)").as_deref(),
            Some("INSERT INTO t VALUES (?, NULLIF(?, 'NaN')), (?, ?)")
        );
        assert_eq!(
            rewrite("SELECT '$2' WHERE a = $1").as_deref(),
            Some("SELECT '$2' WHERE a = ?")
        );
        // Text around the parameters is copied whole, whatever its characters.
        assert_eq!(
            rewrite("SELECT 'é$1ü', $1, 'ß' || $2 -- ✓").as_deref(),
            Some("SELECT 'é$1ü', ?, 'ß' || ? -- ✓")
        );
        // Reused, out of order, or skipped: left alone, as `?` would bind the wrong value.
        for unchanged in [
            "SELECT $1 WHERE a = $1",
            "SELECT $2, $1",
            "SELECT $1, $3",
            "SELECT $ WHERE 1",
            "SELECT $99999999999999999999999",
        ] {
            assert_eq!(rewrite(unchanged), None, "{unchanged}");
        }
    }

    #[test]
    fn sqlite_urls_create_the_file_and_take_the_sync_mode() {
        assert_eq!(
            sqlite_url("sqlite://pacer.db").unwrap(),
            ("sqlite://pacer.db?mode=rwc".to_string(), Synchronous::Full)
        );
        assert_eq!(
            sqlite_url("sqlite:data/p.db?synchronous=NORMAL&mode=rw").unwrap(),
            (
                "sqlite://data/p.db?mode=rw".to_string(),
                Synchronous::Normal
            )
        );
        assert!(sqlite_url("sqlite://p.db?synchronous=off").is_err());
        assert!(sqlite_url("sqlite::memory:").is_err());
        assert!(sqlite_url("postgres://x/y").is_err());
    }

    #[test]
    fn urls_in_messages_hide_the_password() {
        assert_eq!(
            redact_url("postgres://pacer:s3cret@db:5432/pacer?sslmode=disable"),
            "postgres://pacer:***@db:5432/pacer?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://db/pacer"), "postgres://db/pacer");
        assert_eq!(redact_url("sqlite://pacer.db"), "sqlite://pacer.db");
        assert_eq!(Backend::of("postgresql://db/p"), Backend::Postgres);
        assert_eq!(Backend::of("sqlite://p.db"), Backend::Sqlite);
    }
}
