//! Server benchmark: the real HTTP server on a real port with a SQLite file.
//! A plain `fn main` (no criterion): `cargo bench -p pacer --bench server`.
//!
//! Phases (figures go to stdout as Markdown tables, progress to stderr):
//!
//! 1. Durable ingest: the server runs in-process on 127.0.0.1:0 over a fresh SQLite file
//!    (production settings: WAL, `synchronous = FULL`, one-connection writer pool, request
//!    logs at `info` written to a file as `pacer serve` writes them to stderr). N concurrent
//!    clients, each with its own `reqwest::Client` (one keep-alive connection), POST
//!    `/api/v1/deployments` with 1-3 changes each for a fixed time. Every 201 is checked
//!    against the rows in the file afterwards. CPU time is split by thread (server workers,
//!    SQLite connection threads, clients).
//! 2. Where ingest time goes: the same writes through `Store::record_deployment` without
//!    HTTP, and what-ifs on scratch files (not production code) with the production SQL
//!    on one connection: one transaction per deployment (with `synchronous` FULL and
//!    NORMAL), the group-commit writer's statements, and multi-row statements per batch.
//! 3. Bulk load of ~1,000,000 events (deployments + changes + incidents over 1,000 services
//!    and 365 days) straight into a new file created by the production migrations, with
//!    multi-row INSERTs on one connection (`synchronous = OFF` for the load only), in time
//!    order as a live server would have stored them.
//! 4. Reads against that file, in-process: `GET /api/v1/metrics?service=X&days=30` over
//!    random services (p50/p90/p99), the busiest service, a team and the organisation;
//!    `Pacer::report` (what `GET /api/v1/report` and `pacer report` do) called directly,
//!    with a breakdown, and over HTTP; `pacer report` as a process.
//! 5. Memory: `pacer serve` (the real binary) as a child process over the same file; its
//!    VmRSS/VmHWM from `/proc/<pid>/status` after start, after the metric queries, after
//!    reports and after an ingest burst (which also gives ingest throughput into the large
//!    file), and the same with `MALLOC_ARENA_MAX=2` (a what-if: environment only).
//! 6. Where the time goes: a `pacer serve` child with sqlx's statement log at debug level;
//!    SQL statements and their time per metric request, per report and per deployment.
//!
//! Knobs (environment variables):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PACER_BENCH_EVENTS` | 1000000 | events to bulk-load |
//! | `PACER_BENCH_SERVICES` | 1000 | services they spread over (20 per team) |
//! | `PACER_BENCH_CLIENTS` | 1,8,32 | concurrent ingest clients, one run each |
//! | `PACER_BENCH_INGEST_SECS` | 5 | seconds per ingest run |
//! | `PACER_BENCH_RUNS` | 3 | ingest runs per number of clients (the median counts) |
//! | `PACER_BENCH_QUERIES` | 200 | metric requests over random services |
//! | `PACER_BENCH_REPORTS` | 5 | report runs per way of asking |
//! | `PACER_BENCH_NO_SERVICE_PERCENT` | 5 | share of incidents that name no service |
//! | `PACER_BENCH_DIR` | the temp dir | where the SQLite files go (must be a real disk) |
//! | `PACER_BENCH_KEEP` | unset | set: keep the files (their directory is printed) |
//!
//! A smoke run: `PACER_BENCH_EVENTS=20000 PACER_BENCH_SERVICES=50 PACER_BENCH_INGEST_SECS=1
//! PACER_BENCH_QUERIES=20 PACER_BENCH_REPORTS=2 cargo bench -p pacer --bench server`.

use pacer::app::Pacer;
use pacer::settings::Settings;
use pacer_core::{Change, DeployStatus, Deployment, Incident, Scope, Timestamp, Window};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const HISTORY_DAYS: i64 = 365;
const WINDOW_DAYS: u32 = 30;

// ---------------------------------------------------------------------------------------
// Settings of the run

struct Knobs {
    events: usize,
    services: usize,
    clients: Vec<usize>,
    ingest_secs: f64,
    runs: usize,
    queries: usize,
    reports: usize,
    no_service_percent: u64,
    dir: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

impl Knobs {
    fn from_env() -> Knobs {
        Knobs {
            events: env_or("PACER_BENCH_EVENTS", 1_000_000),
            services: env_or("PACER_BENCH_SERVICES", 1000),
            clients: std::env::var("PACER_BENCH_CLIENTS")
                .unwrap_or_else(|_| "1,8,32".into())
                .split(',')
                .map(|s| s.trim().parse().expect("PACER_BENCH_CLIENTS: integers"))
                .collect(),
            ingest_secs: env_or("PACER_BENCH_INGEST_SECS", 5.0),
            runs: env_or("PACER_BENCH_RUNS", 3),
            queries: env_or("PACER_BENCH_QUERIES", 200),
            reports: env_or("PACER_BENCH_REPORTS", 5),
            no_service_percent: env_or("PACER_BENCH_NO_SERVICE_PERCENT", 5),
            dir: std::env::var("PACER_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| std::env::temp_dir()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small tools

/// splitmix64: small, seedable, no dependency.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64 + 1) as i64
    }
    fn log_range(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        (a + (b - a) * self.unit()).exp() as i64
    }
    fn hex40(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next(),
            self.next(),
            self.next() as u32
        )
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of sorted values.
fn pct<T: Copy>(sorted: &[T], p: f64) -> T {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn durations_ms(mut v: Vec<Duration>) -> (f64, f64, f64, f64, f64) {
    v.sort_unstable();
    (
        ms(v[0]),
        ms(pct(&v, 50.0)),
        ms(pct(&v, 90.0)),
        ms(pct(&v, 99.0)),
        ms(v[v.len() - 1]),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU and I/O pressure (share of the last 60 s in which some task waited), when the
/// kernel reports it: other work on the machine shows here.
fn pressure() -> String {
    let some_avg60 = |what: &str| {
        std::fs::read_to_string(format!("/proc/pressure/{what}"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("some"))?
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("avg60="))
                    .map(String::from)
            })
            .unwrap_or_else(|| "n/a".into())
    };
    format!(
        "CPU pressure {}%, I/O pressure {}% (some, avg60)",
        some_avg60("cpu"),
        some_avg60("io")
    )
}

/// `VmRSS`, `VmHWM`, `RssAnon`, `RssFile` of a process, in MiB.
fn memory(pid: &str) -> BTreeMap<&'static str, f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for key in ["VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        out.insert(
            key,
            if key == "Threads" {
                value
            } else {
                value / 1024.0
            },
        );
    }
    out
}

/// On-CPU nanoseconds of this process's threads, by role (from the thread names), and
/// the kernel-mode part of the SQLite threads' time (`sqlite-sys`, from clock ticks).
fn cpu_by_role() -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(entry) = entry else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let ns: u64 = std::fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let role = if comm.starts_with("srv-") {
            "server"
        } else if comm.starts_with("sqlx-sqlite") {
            "sqlite"
        } else if comm.starts_with("cli-") {
            "client"
        } else {
            "other"
        };
        *out.entry(role).or_default() += ns;
        if role == "sqlite" {
            // Fields after the command name: state is 3rd, stime the 15th (USER_HZ = 100).
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let sys_ticks: u64 = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(12)?.parse().ok())
                .unwrap_or(0);
            *out.entry("sqlite-sys").or_default() += sys_ticks * 10_000_000;
        }
    }
    out
}

fn cpu_delta(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    after
        .iter()
        .map(|(k, v)| (*k, v.saturating_sub(before.get(k).copied().unwrap_or(0))))
        .collect()
}

fn file_size_mib(path: &Path) -> f64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            std::fs::metadata(format!("{}{s}", path.display()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>() as f64
        / (1024.0 * 1024.0)
}

fn url_of(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The commit measured, and whether the working tree differs from it.
fn code_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let changed = git(&["status", "--porcelain", "--untracked-files=no"])
        .lines()
        .count();
    format!(
        "{} ({} file(s) modified in the working tree)",
        git(&["log", "-1", "--format=%h %s"]),
        changed
    )
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / (1024.0 * 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem:.1} GiB RAM, Linux {}",
        kernel.trim()
    )
}

/// Latency of a 4 KiB write + fdatasync on the benchmark's disk: the floor of a durable
/// commit (SQLite in WAL mode with synchronous=FULL syncs the WAL once per commit).
fn fsync_probe(dir: &Path) -> (f64, f64) {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe file");
    let block = vec![7u8; 4096];
    let mut v = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        f.write_all(&block).expect("write");
        f.sync_data().expect("fdatasync");
        v.push(t.elapsed());
    }
    let _ = std::fs::remove_file(&path);
    let mean = ms(v.iter().sum::<Duration>()) / v.len() as f64;
    (mean, ms(median(v)))
}

// ---------------------------------------------------------------------------------------
// Synthetic history (the same shape as crates/pacer-core/benches/engine.rs)

/// Events per deployment on average: the deployment, ~1.9 changes, ~0.05 incidents.
const EVENTS_PER_DEPLOYMENT: f64 = 2.9;

fn service_name(s: usize) -> String {
    format!("svc-{s:04}")
}

fn team_name(s: usize) -> String {
    format!("team-{:02}", s / 20)
}

/// Deployments per service: log-uniform weights over two decades (a few busy services,
/// many quiet ones), scaled to about `events` events in all.
fn deployment_counts(events: usize, services: usize, rng: &mut Rng) -> Vec<usize> {
    let weights: Vec<f64> = (0..services)
        .map(|_| rng.log_range(100, 10_000) as f64)
        .collect();
    let total: f64 = weights.iter().sum();
    let deployments = events as f64 / EVENTS_PER_DEPLOYMENT;
    weights
        .iter()
        .map(|w| ((deployments * w / total).round() as usize).max(1))
        .collect()
}

/// One service's year: deployments (70 % production, 93 % successful, 1-3 changes or a
/// precomputed lead time, a few changes redeployed) and incidents after ~8 % of
/// successful production deployments (35 % caused by it, half of those naming it; 40 %
/// not caused; 25 % untriaged; `no_service_percent` % name no service; 3 % still open).
fn service_history(
    s: usize,
    count: usize,
    end: i64,
    no_service_percent: u64,
    next_incident: &mut u64,
    rng: &mut Rng,
) -> (Vec<Deployment>, Vec<Incident>) {
    let service = service_name(s);
    let team = team_name(s);
    let start = end - HISTORY_DAYS * DAY;
    let mut times: Vec<i64> = (0..count).map(|_| rng.range(start + 1, end)).collect();
    times.sort_unstable();
    let mut change_ids: Vec<String> = Vec::new();
    let mut deployments = Vec::with_capacity(count);
    let mut incidents = Vec::new();
    for (k, &t) in times.iter().enumerate() {
        let production = rng.chance(0.7);
        let environment = match (production, rng.below(20)) {
            (false, _) => "staging",
            (true, 0) => "Production",
            (true, 1) => "prod",
            (true, _) => "production",
        };
        let status = if rng.chance(0.93) {
            DeployStatus::Success
        } else {
            DeployStatus::Failure
        };
        let id = format!("dep-{s:04}-{k:06}");
        let mut d = Deployment {
            id: id.clone(),
            service: service.clone(),
            environment: environment.to_string(),
            status,
            deployed_at: Timestamp::from_millis(t),
            sha: Some(rng.hex40()),
            repo: Some(format!("acme/{service}")),
            team: Some(team.clone()),
            changes: Vec::new(),
            lead_time_seconds: None,
            ..Deployment::default()
        };
        if rng.chance(0.05) {
            d.lead_time_seconds = Some(rng.log_range(600, 20 * 86_400) as f64);
        } else {
            for _ in 0..rng.range(1, 3) {
                let cid = if !change_ids.is_empty() && rng.chance(0.03) {
                    change_ids[rng.below(change_ids.len() as u64) as usize].clone()
                } else {
                    let c = rng.hex40();
                    change_ids.push(c.clone());
                    c
                };
                d.changes.push(Change {
                    id: cid,
                    started_at: Timestamp::from_millis(t - rng.log_range(10 * MINUTE, 20 * DAY)),
                });
            }
        }
        if production && status == DeployStatus::Success && rng.chance(0.08) {
            let opened = t + rng.range(MINUTE, 6 * HOUR);
            if opened <= end {
                let resolved = opened + rng.log_range(5 * MINUTE, 2 * DAY);
                let caused = match rng.below(100) {
                    0..35 => Some(true),
                    35..75 => Some(false),
                    _ => None,
                };
                *next_incident += 1;
                incidents.push(Incident {
                    id: format!("inc-{:07}", *next_incident),
                    service: (rng.below(100) >= no_service_percent).then(|| service.clone()),
                    environment: "production".into(),
                    opened_at: Timestamp::from_millis(opened),
                    resolved_at: (resolved <= end && !rng.chance(0.03))
                        .then(|| Timestamp::from_millis(resolved)),
                    severity: Some(format!("SEV{}", rng.range(1, 3))),
                    caused_by_deploy: caused,
                    deployment_id: (caused == Some(true) && rng.chance(0.5)).then_some(id),
                    ..Incident::default()
                });
            }
        }
        deployments.push(d);
    }
    (deployments, incidents)
}

// ---------------------------------------------------------------------------------------
// Bulk load: multi-row INSERTs on one native SQLite connection

enum V {
    T(String),
    OT(Option<String>),
    I(i64),
    OI(Option<i64>),
    OR(Option<f64>),
}

const ROWS_PER_INSERT: usize = 100;

struct Table {
    prefix: &'static str,
    columns: usize,
    values: Vec<V>,
    rows: usize,
}

impl Table {
    fn new(prefix: &'static str, columns: usize) -> Table {
        Table {
            prefix,
            columns,
            values: Vec::new(),
            rows: 0,
        }
    }

    async fn push(&mut self, conn: &mut SqliteConnection, row: Vec<V>) {
        assert_eq!(row.len(), self.columns);
        self.values.extend(row);
        self.rows += 1;
        if self.values.len() >= ROWS_PER_INSERT * self.columns {
            self.flush(conn).await;
        }
    }

    async fn flush(&mut self, conn: &mut SqliteConnection) {
        let n = self.values.len() / self.columns;
        if n == 0 {
            return;
        }
        let one = format!("({})", vec!["?"; self.columns].join(", "));
        let sql = format!("{} VALUES {}", self.prefix, vec![one; n].join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in self.values.drain(..) {
            q = match v {
                V::T(s) => q.bind(s),
                V::OT(s) => q.bind(s),
                V::I(i) => q.bind(i),
                V::OI(i) => q.bind(i),
                V::OR(f) => q.bind(f),
            };
        }
        q.execute(&mut *conn).await.expect("bulk insert");
    }
}

struct Loaded {
    deployments: usize,
    changes: usize,
    incidents: usize,
    no_service_incidents: usize,
    busiest: (String, usize),
    seconds: f64,
}

impl Loaded {
    fn events(&self) -> usize {
        self.deployments + self.changes + self.incidents
    }
}

async fn bulk_load(path: &Path, k: &Knobs, end: i64) -> Loaded {
    let started = Instant::now();
    // The production code creates the file and its schema.
    drop(
        pacer::store::open(&url_of(path))
            .await
            .expect("create database"),
    );
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        // Rows go in per-table batches; consistency is checked once at the end instead.
        .foreign_keys(false)
        .thread_name(|i| format!("bench-sqlite-{i}"))
        .connect()
        .await
        .expect("bulk connection");
    let mut deployments = Table::new(
        "INSERT INTO deployments (id, service, environment, env_key, status, deployed_at, sha, \
         repo, team, lead_time_seconds, received_at)",
        11,
    );
    let mut changes = Table::new(
        "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at)",
        5,
    );
    let mut incidents = Table::new(
        "INSERT INTO incidents (id, service, environment, env_key, opened_at, resolved_at, \
         severity, caused_by_deploy, deployment_id, received_at, updated_at)",
        11,
    );
    let mut services = Table::new(
        "INSERT INTO services (name, team, team_deployed_at, team_deployment_id)",
        4,
    );
    let mut rng = Rng(20_250_601);
    let counts = deployment_counts(k.events, k.services, &mut rng);
    let busiest = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .map(|(s, c)| (service_name(s), *c))
        .unwrap_or_default();
    // The whole history in memory first, then inserted in time order, as a server that
    // received it live would have stored it (row order decides the locality of a window).
    let mut next_incident = 0;
    let mut all_deployments = Vec::new();
    let mut all_incidents = Vec::new();
    for (s, &count) in counts.iter().enumerate() {
        let (deps, incs) = service_history(
            s,
            count,
            end,
            k.no_service_percent,
            &mut next_incident,
            &mut rng,
        );
        let last = deps.last().expect("at least one deployment");
        services.values.extend([
            V::T(last.service.clone()),
            V::OT(last.team.clone()),
            V::OI(Some(last.deployed_at.millis())),
            V::OT(Some(last.id.clone())),
        ]);
        services.rows += 1;
        all_deployments.extend(deps);
        all_incidents.extend(incs);
    }
    all_deployments.sort_by(|a, b| (a.deployed_at, &a.id).cmp(&(b.deployed_at, &b.id)));
    all_incidents.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    let no_service = all_incidents.iter().filter(|i| i.service.is_none()).count();
    sqlx::raw_sql("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    let mut since_commit = 0;
    for d in all_deployments {
        let received = d.deployed_at.millis() + 2_000;
        since_commit += 1 + d.changes.len();
        deployments
            .push(
                &mut conn,
                vec![
                    V::T(d.id.clone()),
                    V::T(d.service.clone()),
                    V::T(d.environment.clone()),
                    V::T(d.environment.trim().to_lowercase()),
                    V::T(d.status.as_str().into()),
                    V::I(d.deployed_at.millis()),
                    V::OT(d.sha),
                    V::OT(d.repo),
                    V::OT(d.team),
                    V::OR(d.lead_time_seconds),
                    V::I(received),
                ],
            )
            .await;
        for (p, c) in d.changes.into_iter().enumerate() {
            changes
                .push(
                    &mut conn,
                    vec![
                        V::T(d.id.clone()),
                        V::I(p as i64),
                        V::T(d.service.clone()),
                        V::T(c.id),
                        V::I(c.started_at.millis()),
                    ],
                )
                .await;
        }
        if since_commit > 100_000 {
            deployments.flush(&mut conn).await;
            changes.flush(&mut conn).await;
            sqlx::raw_sql("COMMIT; BEGIN")
                .execute(&mut conn)
                .await
                .expect("commit");
            since_commit = 0;
            eprint!(".");
        }
    }
    for i in all_incidents {
        let updated = i.resolved_at.unwrap_or(i.opened_at).millis() + 5_000;
        incidents
            .push(
                &mut conn,
                vec![
                    V::T(i.id),
                    V::OT(i.service),
                    V::T(i.environment.clone()),
                    V::T(i.environment.trim().to_lowercase()),
                    V::I(i.opened_at.millis()),
                    V::OI(i.resolved_at.map(Timestamp::millis)),
                    V::OT(i.severity),
                    V::OI(i.caused_by_deploy.map(i64::from)),
                    V::OT(i.deployment_id),
                    V::I(i.opened_at.millis() + 1_000),
                    V::I(updated),
                ],
            )
            .await;
    }
    deployments.flush(&mut conn).await;
    changes.flush(&mut conn).await;
    incidents.flush(&mut conn).await;
    services.flush(&mut conn).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut conn)
        .await
        .expect("commit");
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .expect("foreign key check");
    assert!(
        dangling.is_empty(),
        "{} rows break a foreign key",
        dangling.len()
    );
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    conn.close().await.expect("close");
    eprintln!();
    Loaded {
        deployments: deployments.rows,
        changes: changes.rows,
        incidents: incidents.rows,
        no_service_incidents: no_service,
        busiest,
        seconds: started.elapsed().as_secs_f64(),
    }
}

async fn count_rows(path: &Path, table: &str) -> i64 {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .thread_name(|i| format!("bench-sqlite-{i}"))
        .connect()
        .await
        .expect("read connection");
    let n: i64 = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(&mut conn)
        .await
        .expect("count")
        .get("n");
    conn.close().await.expect("close");
    n
}

// ---------------------------------------------------------------------------------------
// The server, in-process

struct Server {
    base: String,
    pacer: Pacer,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_server(path: &Path) -> Server {
    let mut settings = Settings::default();
    settings.server.database = url_of(path);
    // One client measures the whole server's throughput: no per-client rate limit
    // (docs/security.md), which would answer it 429 past 200 requests per second.
    settings.limits.rate_per_second = 0;
    let store = pacer::store::open(&settings.server.database)
        .await
        .expect("open store");
    let pacer = Pacer::new(store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = pacer.clone();
    tokio::spawn(async move {
        pacer::server::run(listener, app, async move {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    Server {
        base: format!("http://{addr}"),
        pacer,
        stop,
    }
}

fn http_client() -> reqwest::Client {
    pacer::http::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

/// The body of one deployment: a random service, 1-3 changes, deployed now.
fn deployment_body(id: &str, services: usize, rng: &mut Rng) -> String {
    let s = rng.below(services as u64) as usize;
    let now = now_ms() / 1000;
    let changes: Vec<String> = (0..rng.range(1, 3))
        .map(|_| {
            format!(
                r#"{{"id":"{}","started_at":{}}}"#,
                rng.hex40(),
                now - rng.log_range(600, 20 * 86_400)
            )
        })
        .collect();
    format!(
        r#"{{"id":"{id}","service":"{}","environment":"production","status":"success","deployed_at":{now},"sha":"{}","repo":"acme/{}","team":"{}","changes":[{}]}}"#,
        service_name(s),
        rng.hex40(),
        service_name(s),
        team_name(s),
        changes.join(",")
    )
}

struct Ingest {
    created: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Ingest {
    fn rate(&self) -> f64 {
        self.created as f64 / self.seconds
    }
}

/// `clients` concurrent clients POST deployments for `secs` seconds.
async fn ingest(base: &str, clients: usize, secs: f64, tag: &str, services: usize) -> Ingest {
    let url = format!("{base}/api/v1/deployments");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = url.clone();
        let tag = format!("{tag}-{c}");
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut rng = Rng(c as u64 * 7919 + tag.len() as u64);
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let body = deployment_body(&format!("{tag}-{n}"), services, &mut rng);
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("POST /api/v1/deployments");
                let status = response.status();
                let text = response.text().await.expect("response body");
                assert_eq!(status.as_u16(), 201, "unexpected answer: {text}");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    Ingest {
        created: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    }
}

async fn get(client: &reqwest::Client, url: &str) -> (Duration, usize) {
    let t = Instant::now();
    let response = client.get(url).send().await.expect("GET");
    let status = response.status();
    let body = response.bytes().await.expect("body");
    let elapsed = t.elapsed();
    assert!(
        status.is_success(),
        "GET {url}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    (elapsed, body.len())
}

/// Requests that do not reach the store, from `clients` concurrent clients for `secs`:
/// `GET /healthz` (`refused = false`), or a full deployment body with one unknown field,
/// which the server parses completely and refuses with 400 (`refused = true`).
async fn http_floor(
    base: &str,
    clients: usize,
    secs: f64,
    refused: bool,
    services: usize,
) -> (f64, usize) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut rng = Rng(31 + c as u64);
            let mut n = 0usize;
            while Instant::now() < deadline {
                let (status, expected) = if refused {
                    let body = deployment_body(&format!("floor-{c}-{n}"), services, &mut rng);
                    let body = format!("{},\"bench_unknown\":1}}", &body[..body.len() - 1]);
                    let r = client
                        .post(format!("{base}/api/v1/deployments"))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("POST");
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    (status, 400)
                } else {
                    let r = client
                        .get(format!("{base}/healthz"))
                        .send()
                        .await
                        .expect("GET");
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    (status, 200)
                };
                assert_eq!(status, expected);
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client");
    }
    (total as f64 / started.elapsed().as_secs_f64(), total)
}

// ---------------------------------------------------------------------------------------
// Where ingest time goes

fn synthetic_deployment(id: String, services: usize, rng: &mut Rng) -> Deployment {
    let s = rng.below(services as u64) as usize;
    let now = now_ms();
    Deployment {
        id,
        service: service_name(s),
        environment: "production".into(),
        status: DeployStatus::Success,
        deployed_at: Timestamp::from_millis(now),
        sha: Some(rng.hex40()),
        repo: Some(format!("acme/{}", service_name(s))),
        team: Some(team_name(s)),
        changes: (0..rng.range(1, 3))
            .map(|_| Change {
                id: rng.hex40(),
                started_at: Timestamp::from_millis(now - rng.log_range(10 * MINUTE, 20 * DAY)),
            })
            .collect(),
        lead_time_seconds: None,
        ..Deployment::default()
    }
}

/// `Store::record_deployment` from `tasks` concurrent tasks, no HTTP.
async fn store_direct(
    pacer: &Pacer,
    tasks: usize,
    secs: f64,
    services: usize,
) -> (f64, usize, BTreeMap<&'static str, u64>) {
    let before = cpu_by_role();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = pacer.store.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(1000 + t as u64);
            let mut n = 0usize;
            while Instant::now() < deadline {
                let d = synthetic_deployment(format!("direct-{tasks}-{t}-{n}"), services, &mut rng);
                store.record_deployment(&d).await.expect("record");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    (
        total as f64 / started.elapsed().as_secs_f64(),
        total,
        cpu_delta(&before, &cpu_by_role()),
    )
}

/// How a what-if writes its deployments.
#[derive(Clone, Copy)]
enum Shape {
    /// One transaction per deployment: INSERT deployment, INSERT changes, upsert service
    /// (what `record_deployment` did before group commit).
    OnePerTransaction,
    /// `n` deployments per transaction, each in a savepoint with the same three
    /// statements: the statements the group-commit writer issues.
    Savepoints(usize),
    /// `n` deployments per transaction in multi-row statements: one INSERT for the
    /// deployments (`RETURNING id` tells which were new), one for their changes, one upsert
    /// for their services.
    MultiRow(usize),
}

impl Shape {
    fn describe(self) -> String {
        match self {
            Shape::OnePerTransaction => {
                "1 deployment per transaction, 3 statements each (before group commit)".into()
            }
            Shape::Savepoints(n) => format!(
                "{n} per transaction, each in a savepoint: 5 statements per deployment (as the group-commit writer)"
            ),
            Shape::MultiRow(n) => {
                format!("{n} per transaction in multi-row statements: 3 statements per batch")
            }
        }
    }
}

const INSERT_DEPLOYMENT: &str = "INSERT INTO deployments (id, service, environment, env_key, status, \
     deployed_at, sha, repo, team, lead_time_seconds, received_at) VALUES";
const UPSERT_SERVICE_TAIL: &str = " ON CONFLICT (name) DO UPDATE SET team = excluded.team, \
     team_deployed_at = excluded.team_deployed_at, team_deployment_id = excluded.team_deployment_id \
     WHERE excluded.team IS NOT NULL AND (services.team IS NULL \
     OR excluded.team_deployed_at > services.team_deployed_at \
     OR (excluded.team_deployed_at = services.team_deployed_at \
         AND excluded.team_deployment_id > services.team_deployment_id))";

/// `($a, $a+1, ...), (...)`: `rows` groups of `per_row` numbered placeholders.
fn numbered_rows(rows: usize, per_row: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..per_row)
                .map(|c| format!("${}", 1 + r * per_row + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_deployment(q: AnyQuery<'static>, d: &Deployment) -> AnyQuery<'static> {
    q.bind(d.id.clone())
        .bind(d.service.clone())
        .bind(d.environment.clone())
        .bind(d.environment.trim().to_lowercase())
        .bind(d.status.as_str())
        .bind(d.deployed_at.millis())
        .bind(d.sha.clone())
        .bind(d.repo.clone())
        .bind(d.team.clone())
        .bind(d.lead_time_seconds)
        .bind(now_ms())
}

fn bind_changes(mut q: AnyQuery<'static>, d: &Deployment) -> AnyQuery<'static> {
    for (i, c) in d.changes.iter().enumerate() {
        q = q
            .bind(d.id.clone())
            .bind(i as i64)
            .bind(d.service.clone())
            .bind(c.id.clone())
            .bind(c.started_at.millis());
    }
    q
}

/// What-if (not production code): the writes of `SqlStore::record_deployment` on one
/// connection of sqlx's `Any` driver with the production pragmas, except `synchronous`,
/// in the given shape. The SQL of each statement is the production SQL.
async fn what_if(
    path: &Path,
    synchronous: &str,
    shape: Shape,
    secs: f64,
    services: usize,
) -> (f64, usize, BTreeMap<&'static str, u64>) {
    use sqlx::any::AnyPoolOptions;
    drop(pacer::store::open(&url_of(path)).await.expect("create"));
    let synchronous = synchronous.to_string();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            let synchronous = synchronous.clone();
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL".to_string(),
                    format!("PRAGMA synchronous = {synchronous}"),
                    "PRAGMA busy_timeout = 10000".to_string(),
                    "PRAGMA foreign_keys = ON".to_string(),
                ] {
                    sqlx::query(AssertSqlSafe(pragma))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&format!("{}?mode=rwc", url_of(path)))
        .await
        .expect("what-if pool");
    let (batch, savepoints, multi_row) = match shape {
        Shape::OnePerTransaction => (1, false, false),
        Shape::Savepoints(n) => (n, true, false),
        Shape::MultiRow(n) => (n, false, true),
    };
    let mut rng = Rng(77);
    let before = cpu_by_role();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut n = 0usize;
    while Instant::now() < deadline {
        let deployments: Vec<Deployment> = (0..batch)
            .map(|i| synthetic_deployment(format!("whatif-{}", n + i), services, &mut rng))
            .collect();
        n += batch;
        let mut tx = pool.begin().await.expect("begin");
        if multi_row {
            // Deployments: 11 parameters each, at most 500 parameters a statement.
            let mut new_ids = std::collections::HashSet::new();
            for chunk in deployments.chunks(45) {
                let sql = format!(
                    "{INSERT_DEPLOYMENT} {} ON CONFLICT (id) DO NOTHING RETURNING id",
                    numbered_rows(chunk.len(), 11)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for d in chunk {
                    q = bind_deployment(q, d);
                }
                for row in q.fetch_all(&mut *tx).await.expect("insert deployments") {
                    new_ids.insert(row.get::<String, _>("id"));
                }
            }
            let inserted: Vec<&Deployment> = deployments
                .iter()
                .filter(|d| new_ids.contains(&d.id))
                .collect();
            // Changes: 5 parameters each, 100 rows a statement.
            let mut rows = Vec::new();
            for d in &inserted {
                for (i, c) in d.changes.iter().enumerate() {
                    rows.push((d, i, c));
                }
            }
            for chunk in rows.chunks(100) {
                let sql = format!(
                    "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) VALUES {}",
                    numbered_rows(chunk.len(), 5)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (d, i, c) in chunk {
                    q = q
                        .bind(d.id.clone())
                        .bind(*i as i64)
                        .bind(d.service.clone())
                        .bind(c.id.clone())
                        .bind(c.started_at.millis());
                }
                q.execute(&mut *tx).await.expect("insert changes");
            }
            // Services: the latest deployment of each service in the batch.
            let mut latest: BTreeMap<&str, &Deployment> = BTreeMap::new();
            for d in &inserted {
                let e = latest.entry(d.service.as_str()).or_insert(d);
                if (d.deployed_at, &d.id) > (e.deployed_at, &e.id) {
                    *e = d;
                }
            }
            let latest: Vec<&Deployment> = latest.into_values().collect();
            for chunk in latest.chunks(125) {
                let sql = format!(
                    "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) VALUES {}{UPSERT_SERVICE_TAIL}",
                    numbered_rows(chunk.len(), 4)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for d in chunk {
                    q = q
                        .bind(d.service.clone())
                        .bind(d.team.clone())
                        .bind(d.deployed_at.millis())
                        .bind(d.id.clone());
                }
                q.execute(&mut *tx).await.expect("upsert services");
            }
        } else {
            for d in &deployments {
                if savepoints {
                    sqlx::query("SAVEPOINT write")
                        .execute(&mut *tx)
                        .await
                        .expect("savepoint");
                }
                let sql = format!(
                    "{INSERT_DEPLOYMENT} {} ON CONFLICT (id) DO NOTHING",
                    numbered_rows(1, 11)
                );
                bind_deployment(sqlx::query(AssertSqlSafe(sql)), d)
                    .execute(&mut *tx)
                    .await
                    .expect("insert deployment");
                let sql = format!(
                    "INSERT INTO deployment_changes (deployment_id, position, service, change_id, started_at) VALUES {}",
                    numbered_rows(d.changes.len(), 5)
                );
                bind_changes(sqlx::query(AssertSqlSafe(sql)), d)
                    .execute(&mut *tx)
                    .await
                    .expect("insert changes");
                let sql = format!(
                    "INSERT INTO services (name, team, team_deployed_at, team_deployment_id) VALUES {}{UPSERT_SERVICE_TAIL}",
                    numbered_rows(1, 4)
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(d.service.clone())
                    .bind(d.team.clone())
                    .bind(d.deployed_at.millis())
                    .bind(d.id.clone())
                    .execute(&mut *tx)
                    .await
                    .expect("upsert service");
                if savepoints {
                    sqlx::query("RELEASE SAVEPOINT write")
                        .execute(&mut *tx)
                        .await
                        .expect("release");
                }
            }
        }
        tx.commit().await.expect("commit");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    // Before closing: the connection's thread ends with it.
    let cpu = cpu_delta(&before, &cpu_by_role());
    pool.close().await;
    (rate, n, cpu)
}

// ---------------------------------------------------------------------------------------
// `pacer serve` as a child process, for its memory

struct Child {
    child: std::process::Child,
    base: String,
}

fn spawn_pacer_serve(path: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pacer"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &url_of(path),
    ]);
    // The bench's own PACER_BENCH_* variables would be unknown configuration keys.
    for (key, _) in std::env::vars() {
        if key.starts_with("PACER_") || key == "RUST_LOG" || key.starts_with("MALLOC_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("child log"))
        .spawn()
        .expect("spawn pacer serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("unexpected first line from pacer serve: {line:?}"))
        .to_string();
    Child { child, base }
}

// ---------------------------------------------------------------------------------------

fn main() {
    let k = Knobs::from_env();
    let dir = tempfile::Builder::new()
        .prefix("pacer-bench-")
        .tempdir_in(&k.dir)
        .expect("bench dir");
    let srv = tokio::runtime::Builder::new_multi_thread()
        .thread_name("srv-worker")
        .enable_all()
        .build()
        .expect("server runtime");
    let cli = tokio::runtime::Builder::new_multi_thread()
        .thread_name("cli-worker")
        .enable_all()
        .build()
        .expect("client runtime");
    // Request logs as `pacer serve` writes them (info level, one line per write), into a
    // file instead of a terminal.
    let log_path = dir.path().join("server.log");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(Mutex::new(
            std::fs::File::create(&log_path).expect("log file"),
        ))
        .init();

    println!("# pacer server benchmark");
    println!();
    println!("- machine: {}", machine());
    println!("- code: {}", code_version());
    println!(
        "- files in {} (fsync probe: 4 KiB write + fdatasync, mean {:.3} ms, median {:.3} ms)",
        k.dir.display(),
        fsync_probe(dir.path()).0,
        fsync_probe(dir.path()).1
    );
    println!("- load average at start: {}; {}", loadavg(), pressure());
    println!(
        "- server runtime: tokio multi-thread, {} workers; clients on a separate runtime in the same process",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();

    // 1. Durable ingest over HTTP into a fresh file.
    eprintln!("ingest over HTTP...");
    let ingest_db = dir.path().join("ingest.db");
    let server = srv.block_on(start_server(&ingest_db));
    let base = server.base.clone();
    cli.block_on(ingest(&base, 8, 1.0, "warmup", k.services));
    println!("## 1. Ingest: POST /api/v1/deployments (1-3 changes each), fresh SQLite file");
    println!();
    println!(
        "{} run(s) of {} s per row; throughput is the median run (range in brackets), latencies and CPU over all runs. CPU is on-CPU time per acknowledged deployment, by thread: tokio workers (HTTP, JSON, sqlx), SQLite connection threads (of which kernel time), the clients.",
        k.runs, k.ingest_secs
    );
    println!();
    println!(
        "| clients | deployments | deployments/s | p50 ms | p99 ms | max ms | server CPU µs | SQLite-thread CPU µs (kernel) | client CPU µs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut best = 0.0f64;
    let mut created_total = 0;
    for &c in &k.clients {
        let before = cpu_by_role();
        let mut rates = Vec::new();
        let mut latencies = Vec::new();
        for run in 0..k.runs {
            let r = cli.block_on(ingest(
                &base,
                c,
                k.ingest_secs,
                &format!("c{c}-r{run}"),
                k.services,
            ));
            rates.push(r.rate());
            latencies.extend(r.latencies);
        }
        let cpu = cpu_delta(&before, &cpu_by_role());
        let n = latencies.len();
        let per = |role: &str| cpu.get(role).copied().unwrap_or(0) as f64 / 1e3 / n as f64;
        let (_, p50, _, p99, max) = durations_ms(latencies);
        rates.sort_by(f64::total_cmp);
        let rate = rates[rates.len() / 2];
        println!(
            "| {c} | {n} | **{rate:.0}** ({:.0}-{:.0}) | {p50:.2} | {p99:.2} | {max:.2} | {:.0} | {:.0} ({:.0}) | {:.0} |",
            rates[0],
            rates[rates.len() - 1],
            per("server"),
            per("sqlite"),
            per("sqlite-sys"),
            per("client"),
        );
        best = best.max(rate);
        created_total += n;
    }
    let stored = srv.block_on(count_rows(&ingest_db, "deployments")) as usize;
    let warmup_rows = stored - created_total;
    println!();
    println!(
        "Every 201 is in the file: {created_total} acknowledged in the measured runs, {stored} rows stored ({warmup_rows} from the 1 s warm-up)."
    );
    println!();

    // 2. Where ingest time goes.
    eprintln!("store without HTTP, what-ifs...");
    println!("## 2. Where ingest time goes");
    println!();
    println!(
        "Single runs of {:.1} s. CPU per deployment as in section 1; \"async side\" is the tokio workers and the bench's main thread.",
        (k.ingest_secs / 2.0).max(1.0)
    );
    println!();
    println!("| path | deployments/s | async-side CPU µs | SQLite-thread CPU µs (kernel) |");
    println!("|---|---:|---:|---:|");
    let secs = (k.ingest_secs / 2.0).max(1.0);
    let measured = |f: &dyn Fn() -> (f64, usize, BTreeMap<&'static str, u64>), label: String| {
        let (rate, n, cpu) = f();
        let per = |role: &str| cpu.get(role).copied().unwrap_or(0) as f64 / 1e3 / n.max(1) as f64;
        println!(
            "| {label} | {rate:.0} | {:.0} | {:.0} ({:.0}) |",
            per("server") + per("other"),
            per("sqlite"),
            per("sqlite-sys")
        );
    };
    for refused in [false, true] {
        let before = cpu_by_role();
        let (rate, n) = cli.block_on(http_floor(&base, 32, secs, refused, k.services));
        let cpu = cpu_delta(&before, &cpu_by_role());
        let per = |role: &str| cpu.get(role).copied().unwrap_or(0) as f64 / 1e3 / n.max(1) as f64;
        println!(
            "| HTTP without the store, 32 clients: {} (production code) | {rate:.0} requests/s | {:.0} (clients {:.0}) | {:.0} ({:.0}) |",
            if refused {
                "`POST /api/v1/deployments`, full body + one unknown field, parsed and refused (400)"
            } else {
                "`GET /healthz`"
            },
            per("server") + per("other"),
            per("client"),
            per("sqlite"),
            per("sqlite-sys")
        );
    }
    for tasks in [1, 32] {
        measured(
            &|| srv.block_on(store_direct(&server.pacer, tasks, secs, k.services)),
            format!(
                "`Store::record_deployment`, no HTTP, {tasks} concurrent task(s) (production code)"
            ),
        );
    }
    for (i, (sync, shape)) in [
        ("FULL", Shape::OnePerTransaction),
        ("NORMAL", Shape::OnePerTransaction),
        ("FULL", Shape::Savepoints(32)),
        ("FULL", Shape::MultiRow(32)),
        ("FULL", Shape::MultiRow(128)),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("whatif-{i}.db"));
        measured(
            &|| srv.block_on(what_if(&path, sync, shape, secs, k.services)),
            format!(
                "what-if, one connection, no HTTP, synchronous={sync}: {}",
                shape.describe()
            ),
        );
    }
    println!();
    let _ = server.stop.send(());

    // 3. Bulk load.
    eprintln!("bulk-loading {} events...", k.events);
    let big_db = dir.path().join("big.db");
    let end = now_ms() - MINUTE;
    let loaded = srv.block_on(bulk_load(&big_db, &k, end));
    println!("## 3. Stored history");
    println!();
    println!(
        "{} events: {} deployments, {} changes, {} incidents ({} naming no service), over {} services in {} teams and {HISTORY_DAYS} days; loaded in {:.1} s; file {:.0} MiB. Busiest service: {} ({} deployments a year).",
        loaded.events(),
        loaded.deployments,
        loaded.changes,
        loaded.incidents,
        loaded.no_service_incidents,
        k.services,
        k.services.div_ceil(20),
        loaded.seconds,
        file_size_mib(&big_db),
        loaded.busiest.0,
        loaded.busiest.1,
    );
    println!();

    // 4. Reads, in-process.
    eprintln!("queries...");
    let server = srv.block_on(start_server(&big_db));
    let base = server.base.clone();
    let pacer = server.pacer.clone();
    let client = http_client();
    let mut rng = Rng(4242);
    let service_urls: Vec<String> = (0..k.queries)
        .map(|_| {
            format!(
                "{base}/api/v1/metrics?service={}&days={WINDOW_DAYS}",
                service_name(rng.below(k.services as u64) as usize)
            )
        })
        .collect();
    // Warm-up: page cache and statement caches.
    cli.block_on(async {
        for url in service_urls.iter().take(20) {
            get(&client, url).await;
        }
    });
    let random = cli.block_on(async {
        let mut v = Vec::new();
        for url in &service_urls {
            v.push(get(&client, url).await.0);
        }
        v
    });
    let busiest_url = format!(
        "{base}/api/v1/metrics?service={}&days={WINDOW_DAYS}",
        loaded.busiest.0
    );
    let busiest = cli.block_on(async {
        let mut v = Vec::new();
        for _ in 0..k.queries.clamp(5, 50) {
            v.push(get(&client, &busiest_url).await.0);
        }
        v
    });
    let team_url = format!("{base}/api/v1/metrics?team=team-00&days={WINDOW_DAYS}");
    let team = cli.block_on(async {
        let mut v = Vec::new();
        for _ in 0..k.queries.clamp(5, 20) {
            v.push(get(&client, &team_url).await.0);
        }
        v
    });
    let org_url = format!("{base}/api/v1/metrics?days={WINDOW_DAYS}");
    let org = cli.block_on(async {
        let mut v = Vec::new();
        for _ in 0..k.reports.max(1) {
            v.push(get(&client, &org_url).await.0);
        }
        v
    });
    println!(
        "## 4. Reads over the stored history (window: {WINDOW_DAYS} days ending now), one client, sequential"
    );
    println!();
    println!("| request | runs | min ms | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, v: &Vec<Duration>| {
        let (min, p50, p90, p99, max) = durations_ms(v.clone());
        println!(
            "| {name} | {} | {min:.2} | {p50:.2} | {p90:.2} | {p99:.2} | {max:.2} |",
            v.len()
        );
    };
    row("`GET /api/v1/metrics?service=<random>&days=30`", &random);
    row(
        &format!(
            "`GET /api/v1/metrics?service={}&days=30` (busiest)",
            loaded.busiest.0
        ),
        &busiest,
    );
    row(
        "`GET /api/v1/metrics?team=team-00&days=30` (20 services)",
        &team,
    );
    row("`GET /api/v1/metrics?days=30` (organisation)", &org);
    println!();

    // Breakdown of one service's request: the window load vs the engine.
    let window = Window::new(Timestamp::from_millis(now_ms()), WINDOW_DAYS);
    let keys = pacer.production_keys();
    let (teams, _) = srv.block_on(pacer.team_map()).expect("team map");
    let mut load_times = Vec::new();
    let mut engine_times = Vec::new();
    let mut team_map_times = Vec::new();
    let mut attribution_queries = Vec::new();
    let mut load_sizes = Vec::new();
    let what_if_pool = srv.block_on(read_pool(&big_db));
    let mut batched_times = Vec::new();
    let mut batched_agree = true;
    let mut rng = Rng(99);
    for round in 0..k.queries.clamp(5, 100) {
        let service = service_name(rng.below(k.services as u64) as usize);
        let t = Instant::now();
        srv.block_on(pacer.team_map()).expect("team map");
        team_map_times.push(t.elapsed());
        let t = Instant::now();
        let events = srv
            .block_on(
                pacer
                    .store
                    .load_window(Some(std::slice::from_ref(&service)), &keys, window),
            )
            .expect("load");
        load_times.push(t.elapsed());
        let t = Instant::now();
        let m = pacer_core::Prepared::new(&events, &pacer.config).metrics(
            &teams,
            &Scope::service(&service),
            window,
        );
        engine_times.push(t.elapsed());
        std::hint::black_box(m);
        if round < 20 {
            let (d, agree) = srv.block_on(attribution_in_one_go(
                &what_if_pool,
                &events,
                &pacer.config,
                &keys,
            ));
            batched_times.push(d);
            batched_agree &= agree;
        }
        attribution_queries.push(count_attribution_queries(&events.incidents));
        load_sizes.push(
            events.deployments.len()
                + events
                    .deployments
                    .iter()
                    .map(|d| d.changes.len())
                    .sum::<usize>()
                + events.incidents.len(),
        );
    }
    attribution_queries.sort_unstable();
    load_sizes.sort_unstable();
    println!(
        "One service's request, in parts (median of {} random services): team map (`Store::services`, all {} rows) {:.2} ms; `Store::load_window` {:.2} ms, loading a median of {} events and running a median of {} per-incident attribution queries; engine (`Prepared::new` + `metrics`) {:.3} ms.",
        load_times.len(),
        k.services,
        ms(median(team_map_times)),
        ms(median(load_times)),
        pct(&load_sizes, 50.0),
        pct(&attribution_queries, 50.0),
        ms(median(engine_times)),
    );
    println!();
    println!(
        "What-if (not production code): the same attribution look-ups as one statement per kind (incidents with a service, incidents without), each look-up a correlated subquery, take {:.2} ms (median of {} services; answers {} the deployments the window load holds).",
        ms(median(batched_times.clone())),
        batched_times.len(),
        if batched_agree {
            "equal to"
        } else {
            "DIFFER from"
        },
    );
    println!();

    // The whole-organisation report.
    eprintln!("reports...");
    let mut direct = Vec::new();
    let mut scopes = 0;
    for _ in 0..k.reports.max(1) {
        let window = Window::new(Timestamp::from_millis(now_ms()), WINDOW_DAYS);
        let t = Instant::now();
        let report = srv.block_on(pacer.report(window)).expect("report");
        direct.push(t.elapsed());
        scopes = report.services.len() + report.teams.len() + 1;
    }
    let report_url = format!("{base}/api/v1/report?days={WINDOW_DAYS}");
    let mut report_bytes = 0;
    let over_http = cli.block_on(async {
        let mut v = Vec::new();
        for _ in 0..k.reports.max(1) {
            let (d, n) = get(&client, &report_url).await;
            report_bytes = n;
            v.push(d);
        }
        v
    });
    // Breakdown.
    let t = Instant::now();
    let (teams, _) = srv.block_on(pacer.team_map()).expect("team map");
    let t_teams = t.elapsed();
    let t = Instant::now();
    let events = srv
        .block_on(pacer.store.load_window(None, &keys, window))
        .expect("load");
    let t_load = t.elapsed();
    let t = Instant::now();
    let prepared = pacer_core::Prepared::new(&events, &pacer.config);
    let t_prepare = t.elapsed();
    let t = Instant::now();
    let mut computed = 0;
    computed += prepared
        .metrics(&teams, &Scope::organisation(), window)
        .deployment_frequency
        .deployments;
    for team in teams.teams() {
        computed += prepared
            .metrics(&teams, &Scope::team(team), window)
            .deployment_frequency
            .deployments;
    }
    for s in 0..k.services {
        computed += prepared
            .metrics(&teams, &Scope::service(service_name(s)), window)
            .deployment_frequency
            .deployments;
    }
    let t_metrics = t.elapsed();
    std::hint::black_box(computed);
    let loaded_events = events.deployments.len()
        + events
            .deployments
            .iter()
            .map(|d| d.changes.len())
            .sum::<usize>()
        + events.incidents.len();
    let report_attribution = count_attribution_queries(&events.incidents);
    let (report_batched, report_batched_agree) = srv.block_on(attribution_in_one_go(
        &what_if_pool,
        &events,
        &pacer.config,
        &keys,
    ));
    drop(prepared);
    drop(events);
    println!(
        "| report ({scopes} scopes: {} services, teams, organisation) | runs | min ms | p50 ms | p90 ms | p99 ms | max ms |",
        k.services
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    row("`Pacer::report` called directly", &direct);
    row(
        &format!(
            "`GET /api/v1/report?days=30` ({:.1} MiB of JSON)",
            report_bytes as f64 / 1048576.0
        ),
        &over_http,
    );
    let cli_report = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pacer"));
        cmd.args([
            "report",
            "--database",
            &url_of(&big_db),
            "--days",
            &WINDOW_DAYS.to_string(),
        ]);
        for (key, _) in std::env::vars() {
            if key.starts_with("PACER_") {
                cmd.env_remove(key);
            }
        }
        let mut v = Vec::new();
        for _ in 0..k.reports.clamp(1, 3) {
            let t = Instant::now();
            let status = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pacer report");
            assert!(status.success(), "pacer report failed");
            v.push(t.elapsed());
        }
        v
    };
    row(
        "`pacer report --database ... --days 30` (whole process, table output)",
        &cli_report,
    );
    println!();
    println!(
        "`Pacer::report` in parts (one run): team map {:.1} ms; `Store::load_window(None)` {:.1} ms, loading {loaded_events} events and running {report_attribution} per-incident attribution queries; `Prepared::new` {:.1} ms; {scopes} × `metrics` {:.1} ms.",
        ms(t_teams),
        ms(t_load),
        ms(t_prepare),
        ms(t_metrics),
    );
    println!();
    println!(
        "What-if (not production code): the report's {report_attribution} attribution look-ups as one statement per kind (chunks of 400 incidents) take {:.1} ms; answers {} the deployments the window load holds.",
        ms(report_batched),
        if report_batched_agree {
            "equal to"
        } else {
            "DIFFER from"
        },
    );
    println!();
    let own = memory("self");
    println!(
        "(This benchmark process, which also holds the clients and ran the bulk load: VmRSS {:.0} MiB, VmHWM {:.0} MiB. The server's own figures are measured below in a separate process.)",
        own["VmRSS"], own["VmHWM"]
    );
    println!();
    let _ = server.stop.send(());

    // What-if: the same binary with glibc limited to two malloc arenas (environment only).
    eprintln!("pacer serve with MALLOC_ARENA_MAX=2...");
    let arena_log = dir.path().join("child-arena.log");
    let mut arena = spawn_pacer_serve(&big_db, &arena_log, &[("MALLOC_ARENA_MAX", "2")]);
    let arena_pid = arena.child.id().to_string();
    let arena_base = arena.base.clone();
    cli.block_on(async {
        get(&client, &format!("{arena_base}/readyz")).await;
        for url in &service_urls {
            get(&client, &url.replace(&server.base, &arena_base)).await;
        }
        for _ in 0..k.reports.max(1) {
            get(
                &client,
                &format!("{arena_base}/api/v1/report?days={WINDOW_DAYS}"),
            )
            .await;
        }
    });
    let arena_memory = memory(&arena_pid);
    let _ = arena.child.kill();
    let _ = arena.child.wait();
    // 6. Where read and write time goes: sqlx's own statement log (`sqlx::query` at debug)
    //    from `pacer serve` children; each statement's time is measured by sqlx inside the
    //    SQLite connection thread. Reads run before any ingest into the large file.
    eprintln!("diagnosis: sqlx statement log...");
    let diag_log = dir.path().join("child-diag.log");
    let log_len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let settle = Duration::from_millis(20);
    let mut diag = spawn_pacer_serve(
        &big_db,
        &diag_log,
        &[("RUST_LOG", "info,sqlx::query=debug")],
    );
    let diag_base = diag.base.clone();
    let (metric_segments, report_segment) = cli.block_on(async {
        get(&client, &format!("{diag_base}/readyz")).await;
        let mut metric_segments = Vec::new();
        for url in service_urls.iter().take(20) {
            let url = url.replace(&server.base, &diag_base);
            let from = log_len(&diag_log);
            let (d, _) = get(&client, &url).await;
            tokio::time::sleep(settle).await;
            metric_segments.push((from, log_len(&diag_log), d));
        }
        let from = log_len(&diag_log);
        let (d, _) = get(
            &client,
            &format!("{diag_base}/api/v1/report?days={WINDOW_DAYS}"),
        )
        .await;
        tokio::time::sleep(settle).await;
        (metric_segments, (from, log_len(&diag_log), d))
    });
    let _ = diag.child.kill();
    let _ = diag.child.wait();

    // 5. Memory of `pacer serve`, a separate process over the same file.
    eprintln!("pacer serve as a child process...");
    let child_log = dir.path().join("child.log");
    let mut child = spawn_pacer_serve(&big_db, &child_log, &[]);
    let pid = child.child.id().to_string();
    let base = child.base.clone();
    let mut rows: Vec<(String, BTreeMap<&'static str, f64>)> = Vec::new();
    cli.block_on(get(&client, &format!("{base}/readyz")));
    rows.push(("started, database open".into(), memory(&pid)));
    let child_random = cli.block_on(async {
        let mut v = Vec::new();
        for url in &service_urls {
            let url = url.replace(&server.base, &base);
            v.push(get(&client, &url).await.0);
        }
        v
    });
    rows.push((
        format!(
            "after {} `GET /api/v1/metrics?service=...`",
            service_urls.len()
        ),
        memory(&pid),
    ));
    let child_reports = cli.block_on(async {
        let mut v = Vec::new();
        for _ in 0..k.reports.max(1) {
            v.push(
                get(&client, &format!("{base}/api/v1/report?days={WINDOW_DAYS}"))
                    .await
                    .0,
            );
        }
        v
    });
    rows.push((
        format!("after {} `GET /api/v1/report?days=30`", child_reports.len()),
        memory(&pid),
    ));
    let burst_clients = k.clients.iter().copied().max().unwrap_or(32);
    let burst = cli.block_on(ingest(
        &base,
        burst_clients,
        k.ingest_secs,
        "child",
        k.services,
    ));
    rows.push((
        format!(
            "after {} s of ingest from {burst_clients} clients ({} deployments)",
            k.ingest_secs, burst.created
        ),
        memory(&pid),
    ));
    let child_services = cli.block_on(get(
        &client,
        &format!("{base}/api/v1/services?days={WINDOW_DAYS}"),
    ));
    rows.push(("after `GET /api/v1/services?days=30`".into(), memory(&pid)));
    let _ = child.child.kill();
    let _ = child.child.wait();
    let diag_ingest_log = dir.path().join("child-diag-ingest.log");
    let mut diag = spawn_pacer_serve(
        &big_db,
        &diag_ingest_log,
        &[("RUST_LOG", "info,sqlx::query=debug")],
    );
    let diag_base = diag.base.clone();
    let (ingest_segment, diag_ingest) = cli.block_on(async {
        get(&client, &format!("{diag_base}/readyz")).await;
        let from = log_len(&diag_ingest_log);
        let r = ingest(&diag_base, 8, 2.0, "diag", k.services).await;
        tokio::time::sleep(settle).await;
        ((from, log_len(&diag_ingest_log)), r)
    });
    let _ = diag.child.kill();
    let _ = diag.child.wait();

    println!(
        "## 5. Memory of `pacer serve` (separate process, same {}-event file)",
        loaded.events()
    );
    println!();
    println!("| after | VmRSS MiB | VmHWM MiB | RssAnon MiB | RssFile MiB | threads |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, m) in &rows {
        println!(
            "| {what} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            m["VmRSS"], m["VmHWM"], m["RssAnon"], m["RssFile"], m["Threads"]
        );
    }
    println!();
    let (_, c50, _, c99, _) = durations_ms(child_random.clone());
    let (_, r50, _, _, _) = durations_ms(child_reports.clone());
    println!(
        "Same requests against this process: metrics p50 {c50:.2} ms, p99 {c99:.2} ms; report p50 {r50:.0} ms; ingest into the large file from {burst_clients} clients {:.0} deployments/s (p99 {:.1} ms); `GET /api/v1/services` (a report plus one query per service) {:.0} ms.",
        burst.rate(),
        durations_ms(burst.latencies.clone()).3,
        ms(child_services.0),
    );
    println!();

    println!(
        "What-if (same binary, environment only): with `MALLOC_ARENA_MAX=2` the same {} metric requests and {} reports leave VmRSS {:.1} MiB, VmHWM {:.1} MiB (RssAnon {:.1} MiB).",
        service_urls.len(),
        k.reports.max(1),
        arena_memory["VmRSS"],
        arena_memory["VmHWM"],
        arena_memory["RssAnon"],
    );
    println!();

    let log = std::fs::read(&diag_log).unwrap_or_default();
    println!("## 6. Where the time goes: SQL statements per request (sqlx statement log)");
    println!();
    println!(
        "`pacer serve` children with `RUST_LOG=info,sqlx::query=debug`; sqlx times each statement in the SQLite connection thread (from the first step to the last row; BEGIN and COMMIT are not logged). Debug logging slows requests, so compare the SQL time with the request time of sections 4 and 1, not with the request time of this run."
    );
    println!();
    let metric_stats = statement_stats(
        &log,
        &metric_segments
            .iter()
            .map(|(a, b, _)| (*a, *b))
            .collect::<Vec<_>>(),
    );
    let n_metric = metric_segments.len() as f64;
    let metric_wall = durations_ms(metric_segments.iter().map(|s| s.2).collect()).1;
    println!(
        "### `GET /api/v1/metrics?service=<random>&days=30`, mean of {} requests (request p50 with debug logging: {metric_wall:.1} ms)",
        metric_segments.len()
    );
    println!();
    print_stats(&metric_stats, n_metric, "per request", 1e3, "ms");
    let report_stats = statement_stats(&log, &[(report_segment.0, report_segment.1)]);
    println!(
        "### `GET /api/v1/report?days=30`, one request (with debug logging: {:.0} ms)",
        ms(report_segment.2)
    );
    println!();
    print_stats(&report_stats, 1.0, "per request", 1e3, "ms");
    let ingest_log = std::fs::read(&diag_ingest_log).unwrap_or_default();
    let ingest_stats = statement_stats(&ingest_log, &[ingest_segment]);
    println!(
        "### `POST /api/v1/deployments`, 8 clients for 2 s into the large file: {} deployments ({:.0}/s with debug logging)",
        diag_ingest.created,
        diag_ingest.rate()
    );
    println!();
    print_stats(
        &ingest_stats,
        diag_ingest.created as f64,
        "per deployment",
        1e6,
        "µs",
    );

    // Summary.
    let (_, m50, _, m99, _) = durations_ms(random.clone());
    let report_p50 = durations_ms(direct.clone()).1;
    let http_report_p50 = durations_ms(over_http.clone()).1;
    let hwm = rows.iter().map(|(_, m)| m["VmHWM"]).fold(0.0f64, f64::max);
    let after_queries = rows[2].1["VmRSS"];
    let verdict = |ok: bool| if ok { "pass" } else { "**FAIL**" };
    println!("## Summary");
    println!();
    println!("| target | measured | result |");
    println!("|---|---|---|");
    println!(
        "| (a) durable ingest ≥ 5,000 deployments/s over HTTP | best {best:.0}/s (clients: {:?}) | {} |",
        k.clients,
        verdict(best >= 5000.0)
    );
    println!(
        "| (b) `GET /api/v1/metrics` one service, 30 days, {} events: < 10 ms | p50 {m50:.2} ms, p99 {m99:.2} ms | {} |",
        loaded.events(),
        verdict(m99 < 10.0)
    );
    println!(
        "| (c) whole-organisation report, {} services: < 1 s | `Pacer::report` p50 {report_p50:.0} ms; over HTTP p50 {http_report_p50:.0} ms | {} |",
        k.services,
        verdict(report_p50 < 1000.0 && http_report_p50 < 1000.0)
    );
    println!(
        "| (d) server RSS < 100 MB with {} events | VmRSS {after_queries:.1} MiB after queries and reports; VmHWM {hwm:.1} MiB over the whole run | {} |",
        loaded.events(),
        verdict(hwm * 1.048_576 < 100.0)
    );
    println!();
    println!("- load average at end: {}; {}", loadavg(), pressure());
    println!(
        "- server log: {:.1} MiB written in-process",
        std::fs::metadata(&log_path).map_or(0.0, |m| m.len() as f64 / 1048576.0)
    );
    srv.shutdown_background();
    cli.shutdown_background();
    if std::env::var_os("PACER_BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
}

/// A one-connection read pool over `path` with the production pragmas.
async fn read_pool(path: &Path) -> sqlx::AnyPool {
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA foreign_keys = ON",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(&url_of(path))
        .await
        .expect("read pool")
}

/// What-if (not production code): the attribution look-ups `load_window` makes one
/// statement each (latest successful production deployment of the incident's service, or
/// of any service, at or before its opening), done as one statement per kind with a
/// correlated subquery per incident. Returns its time and whether every answer equals the
/// latest such deployment among those the window load returned (which, by the store's
/// contract, holds the true one).
async fn attribution_in_one_go(
    pool: &sqlx::AnyPool,
    events: &pacer_core::EventSet,
    config: &pacer_core::MetricsConfig,
    envs: &[String],
) -> (Duration, bool) {
    let wanted: Vec<&Incident> = events
        .incidents
        .iter()
        .filter(|i| i.deployment_id.is_none())
        .collect();
    let env_params: Vec<String> = (1..=envs.len()).map(|i| format!("${i}")).collect();
    let mut answers: BTreeMap<String, Option<String>> = BTreeMap::new();
    let started = Instant::now();
    for with_service in [true, false] {
        let list: Vec<&&Incident> = wanted
            .iter()
            .filter(|i| i.service.is_some() == with_service)
            .collect();
        for chunk in list.chunks(400) {
            let ids: Vec<String> = (0..chunk.len())
                .map(|i| format!("${}", envs.len() + 1 + i))
                .collect();
            let sql = format!(
                "SELECT i.id AS id, (SELECT d.id FROM deployments d WHERE {}d.deployed_at <= i.opened_at \
                 AND d.status = 'success' AND d.env_key IN ({}) \
                 ORDER BY d.deployed_at DESC, d.id DESC LIMIT 1) AS attributed \
                 FROM incidents i WHERE i.id IN ({})",
                if with_service {
                    "d.service = i.service AND "
                } else {
                    ""
                },
                env_params.join(", "),
                ids.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in envs {
                q = q.bind(e.clone());
            }
            for i in chunk {
                q = q.bind(i.id.clone());
            }
            for row in q.fetch_all(pool).await.expect("attribution what-if") {
                answers.insert(row.get("id"), row.get("attributed"));
            }
        }
    }
    let elapsed = started.elapsed();
    let agree = wanted.iter().all(|i| {
        let expected = events
            .deployments
            .iter()
            .filter(|d| {
                d.status == DeployStatus::Success
                    && config.production.contains(&d.environment)
                    && i.service.as_ref().is_none_or(|s| *s == d.service)
                    && d.deployed_at <= i.opened_at
            })
            .max_by(|a, b| (a.deployed_at, &a.id).cmp(&(b.deployed_at, &b.id)))
            .map(|d| d.id.clone());
        answers.get(&i.id) == Some(&expected)
    });
    (elapsed, agree)
}

/// What a logged statement does, from its SQL (the statements of `SqlStore`).
fn classify(line: &str) -> &'static str {
    let has = |p: &str| line.contains(p);
    if has("FROM services ORDER BY name") {
        "`Store::services` (team map)"
    } else if has("SELECT DISTINCT c.deployment_id") {
        "load_window 2: earlier deployments carrying the window's changes"
    } else if has("FROM deployment_changes WHERE deployment_id IN") {
        "changes of loaded deployments (`attach_changes`)"
    } else if has("FROM deployments WHERE deployed_at > $1") {
        "load_window 1: production deployments in the window"
    } else if has("service IS NULL AND deployment_id IS NULL") {
        "load_window 3: incidents naming no service"
    } else if has("FROM incidents WHERE env_key IN") {
        "load_window 3: incidents resolved in / opened after the window start"
    } else if has("FROM incidents") && has("AND deployment_id IN (") {
        "load_window 3: incidents naming window deployments"
    } else if has("FROM deployments WHERE service = $1 AND deployed_at <= $2") {
        "load_window 4: attribution by time, one query per incident (its service)"
    } else if has("FROM deployments WHERE $1 = $1 AND deployed_at <= $2") {
        "load_window 4: attribution by time, one query per incident (no service: any)"
    } else if has("FROM deployments WHERE id IN") {
        "deployments by id (attributed, earlier carriers)"
    } else if has("FROM incidents LIMIT 1") {
        "incident feed check"
    } else if has("INSERT INTO deployments") {
        "INSERT deployment"
    } else if has("INSERT INTO deployment_changes") {
        "INSERT changes (one multi-row statement)"
    } else if has("INSERT INTO services") {
        "upsert service (team of latest deployment)"
    } else {
        "other"
    }
}

/// `line` without ANSI colour sequences (`pacer serve` colours its log even into a file).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Statement count and seconds by class within byte ranges of the statement log.
fn statement_stats(log: &[u8], segments: &[(u64, u64)]) -> BTreeMap<&'static str, (usize, f64)> {
    let mut out: BTreeMap<&'static str, (usize, f64)> = BTreeMap::new();
    for &(from, to) in segments {
        let (from, to) = (from as usize, (to as usize).min(log.len()));
        if from >= to {
            continue;
        }
        for line in String::from_utf8_lossy(&log[from..to]).lines() {
            let line = strip_ansi(line);
            let line = line.as_str();
            if !line.contains("sqlx::query") {
                continue;
            }
            let Some(secs) = line
                .split("elapsed_secs=")
                .nth(1)
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            else {
                continue;
            };
            let e = out.entry(classify(line)).or_default();
            e.0 += 1;
            e.1 += secs;
        }
    }
    out
}

fn print_stats(
    stats: &BTreeMap<&'static str, (usize, f64)>,
    per: f64,
    unit_of_work: &str,
    scale: f64,
    unit: &str,
) {
    println!("| statement | statements {unit_of_work} | SQL time {unit_of_work}, {unit} |");
    println!("|---|---:|---:|");
    let mut rows: Vec<_> = stats.iter().collect();
    rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
    let (mut count, mut secs) = (0, 0.0);
    for (class, (n, s)) in rows {
        count += n;
        secs += s;
        println!(
            "| {class} | {:.1} | {:.2} |",
            *n as f64 / per,
            s / per * scale
        );
    }
    println!(
        "| **all** | **{:.1}** | **{:.2}** |",
        count as f64 / per,
        secs / per * scale
    );
    println!();
}

/// Queries `load_window` runs to attribute incidents by time: one per distinct
/// (service, opened_at) among incidents that name no deployment.
fn count_attribution_queries(incidents: &[Incident]) -> usize {
    let mut set = std::collections::BTreeSet::new();
    for i in incidents {
        if i.deployment_id.is_none() {
            set.insert((i.service.clone(), i.opened_at));
        }
    }
    set.len()
}
